"""The evolve experiment's tables from `ladle evaluate`'s JSON lines on the test set.

1. Held-out loss per task (rows) for the source models, the first seed's best hand-set recipe and its two evolved
   recipes (columns).
2. Per seed: the mean test loss over tasks of that seed's best hand-set recipe (picked on its fitness subset) and of
   the two evolved recipes, then each evolved recipe's difference from the hand-set baseline as mean and 95% Student
   t interval over the seeds; an interval that holds 0 is printed "not separated".

Usage: table.py TEST.jsonl "SEED..." "BEST_HAND_SET_LABEL_PER_SEED..."
"""
import json
import statistics
import sys

# Two-sided 95% quantiles of Student's t by degrees of freedom (scipy.stats.t.ppf(0.975, df)).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}

rows = {row["label"]: row for row in map(json.loads, open(sys.argv[1]))}
seeds = sys.argv[2].split()
best = dict(zip(seeds, sys.argv[3].split()))


def mean_over_tasks(label):
    per_task = rows[label]["per_task"]
    return sum(per_task.values()) / len(per_task)


def per_task_table(seed):
    columns = ["base", "kmeans-0", "kmeans-1", "kmeans-2", "kmeans-3", best[seed], f"evolved-ta-s{seed}",
               f"evolved-ties-s{seed}"]
    titles = [f"hand-set: {c}" if c == best[seed] else c for c in columns]
    print("| task (test loss) | " + " | ".join(titles) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for task in sorted({task for c in columns for task in rows[c]["per_task"]}):
        values = [rows[c]["per_task"].get(task) for c in columns]
        low = min(v for v in values if v is not None)
        cells = ["–" if v is None else (f"**{v:.3f}**" if v == low else f"{v:.3f}") for v in values]
        print(f"| {task} | " + " | ".join(cells) + " |")
    means = [mean_over_tasks(c) for c in columns]
    print("| **mean over tasks** | " + " | ".join(f"**{m:.3f}**" if m == min(means) else f"{m:.3f}" for m in means)
          + " |")
    print("| every token | " + " | ".join(f"{rows[c]['loss']:.3f}" for c in columns) + " |")


def interval(differences):
    mean = statistics.mean(differences)
    if len(differences) < 2:
        return f"{mean:+.3f}"
    half = T_975[len(differences) - 1] * statistics.stdev(differences) / len(differences) ** 0.5
    verdict = "not separated" if mean - half <= 0 <= mean + half else "separated"
    return f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] ({verdict})"


def seeds_table():
    print("| seed | best hand-set recipe (its test loss) | evolved task arithmetic | evolved TIES |")
    print("|---|---|---|---|")
    differences = {"ta": [], "ties": []}
    for seed in seeds:
        hand = mean_over_tasks(best[seed])
        ta, ties = mean_over_tasks(f"evolved-ta-s{seed}"), mean_over_tasks(f"evolved-ties-s{seed}")
        differences["ta"].append(ta - hand)
        differences["ties"].append(ties - hand)
        print(f"| {seed} | {best[seed]} ({hand:.3f}) | {ta:.3f} | {ties:.3f} |")
    print(f"| evolved − hand-set: mean [95% t interval over {len(seeds)} seeds] | | "
          f"{interval(differences['ta'])} | {interval(differences['ties'])} |")


per_task_table(seeds[0])
print()
seeds_table()
