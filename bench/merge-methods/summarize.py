#!/usr/bin/python3
"""Summarises the merge-methods experiment over its seeds (bench/merge-methods/run_experiment.sh).

  summarize.py OUT_DIR RESULTS_DIR SEED [SEED ...]

Reads OUT_DIR/base.jsonl and OUT_DIR/seed-S/scores.jsonl (`ladle evaluate` lines: the experts "expert-GROUP" and
the merges, labelled by method); every model is compared with the expert of its own seed.

- Normalised accuracy (FusionBench): acc(model, t) / acc(expert-g, t) for task t of group g, averaged over the
  tasks the experts learned: those whose expert's accuracy exceeds the base model's by at least MIN_ACCURACY_GAIN
  in every seed (elsewhere the ratio divides noise by a chance-level or zero accuracy).
- Retained loss gain (the same normalisation on the held-out response loss): (L(base, t) − L(model, t)) /
  (L(base, t) − L(expert-g, t)), 1 = the expert's own loss, 0 = the base model's, averaged per group and over the
  tasks whose expert lowers the base's loss by at least MIN_LOSS_GAIN nats in every seed.
- Absolute accuracy and response loss averaged over every task.
Each as the mean over seeds with a 95% t-interval; for every pair of merges the paired (same seed, same experts)
difference of each mean, "separated" when its 95% t-interval excludes 0.
Writes RESULTS_DIR/summary.jsonl, table.md, tasks.md, normalised.dat, normalised.gp and normalised.png (gnuplot),
and prints table.md.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "averaging"))
from summarize_sweeps import interval, read_jsonl  # noqa: E402  (the 95% t-interval of the benchmarks)

MIN_ACCURACY_GAIN = 0.1  # 3 of the 30 test records of a task
MIN_LOSS_GAIN = 0.5      # nats per response token
MERGES = ["linear", "task_arithmetic", "ties", "dare_ties", "tsv_m", "iso_cts", "evolved"]


def mean(values):
    return sum(values) / len(values)


def shown(values, digits=3):
    centre, half = interval(values)
    return f"{centre:.{digits}f} ± {half:.{digits}f}"


class Runs:
    """Every seed's scores, the base model's added to each."""

    def __init__(self, out_dir, seeds, expert_of):
        base = read_jsonl(os.path.join(out_dir, "base.jsonl"))[0]
        self.seeds, self.expert_of = seeds, expert_of
        self.rows = {}
        for seed in seeds:
            self.rows[seed] = {row["label"]: row for row in read_jsonl(os.path.join(out_dir, f"seed-{seed}", "scores.jsonl"))}
            self.rows[seed]["base"] = base

    def accuracy(self, seed, model, task):
        return self.rows[seed][model]["accuracy"].get(task, 0.0)

    def loss(self, seed, model, task):
        return self.rows[seed][model]["per_task"][task]

    def expert(self, task):
        return self.expert_of[task]

    def normalised_accuracy(self, seed, model, tasks):
        return mean([self.accuracy(seed, model, t) / self.accuracy(seed, self.expert(t), t) for t in tasks])

    def retained_loss_gain(self, seed, model, tasks):
        return mean([(self.loss(seed, "base", t) - self.loss(seed, model, t)) /
                     (self.loss(seed, "base", t) - self.loss(seed, self.expert(t), t)) for t in tasks])


def paired_separations(by_model, key):
    pairs = []
    for i, a in enumerate(MERGES):
        for b in MERGES[i + 1:]:
            if key not in by_model[a]:
                continue
            differences = [x - y for x, y in zip(by_model[a][key], by_model[b][key])]
            centre, half = interval(differences)
            pairs.append({"metric": key, "a": a, "b": b, "difference": centre, "half_width": half,
                          "separated": abs(centre) > half})
    return pairs


def separation_sentence(pairs, what):
    separated = [p for p in pairs if p["separated"]]
    if not pairs:
        return f"{what}: not measured."
    if not separated:
        return f"{what}: none of the {len(pairs)} pairs of merges separated."
    return (f"{what}: {len(separated)} of {len(pairs)} pairs separated (paired difference, 95% t-interval): " +
            "; ".join(f"{p['a']} − {p['b']} = {p['difference']:+.3f} ± {p['half_width']:.3f}" for p in separated) + ".")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out_dir, results = sys.argv[1], sys.argv[2]
    seeds = [int(seed) for seed in sys.argv[3:]]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "groups.json")) as f:
        groups = json.load(f)
    expert_of = {task: "expert-" + group for group, tasks in groups.items() for task in tasks}
    runs = Runs(out_dir, seeds, expert_of)
    tasks = sorted(expert_of)
    # (1e-9: 3 of 30 records is a gain of 0.1 that floating point may round just below it)
    learned = [t for t in tasks if all(runs.accuracy(s, expert_of[t], t) - runs.accuracy(s, "base", t)
                                       >= MIN_ACCURACY_GAIN - 1e-9 for s in seeds)]
    lowered = [t for t in tasks if all(runs.loss(s, "base", t) - runs.loss(s, expert_of[t], t) >= MIN_LOSS_GAIN
                                       for s in seeds)]
    models = ["base"] + ["expert-" + group for group in groups] + MERGES

    summary = []
    for model in models:
        entry = {"model": model, "seeds": seeds, "accuracy_tasks": learned, "loss_tasks": lowered}
        if learned:
            entry["normalised_accuracy"] = [runs.normalised_accuracy(s, model, learned) for s in seeds]
        entry["retained_loss_gain"] = {}
        for group, group_tasks in groups.items():
            chosen = [t for t in group_tasks if t in lowered]
            if chosen:
                entry["retained_loss_gain"][group] = [runs.retained_loss_gain(s, model, chosen) for s in seeds]
        entry["retained_loss_gain_mean"] = [runs.retained_loss_gain(s, model, lowered) for s in seeds]
        entry["accuracy"] = [mean([runs.accuracy(s, model, t) for t in tasks]) for s in seeds]
        entry["loss"] = [mean([runs.loss(s, model, t) for t in tasks]) for s in seeds]
        entry["task_accuracy"] = {t: [runs.accuracy(s, model, t) for s in seeds] for t in tasks}
        entry["task_loss"] = {t: [runs.loss(s, model, t) for s in seeds] for t in tasks}
        summary.append(entry)
    by_model = {entry["model"]: entry for entry in summary}
    pairs = (paired_separations(by_model, "normalised_accuracy") + paired_separations(by_model, "retained_loss_gain_mean") +
             paired_separations(by_model, "accuracy") + paired_separations(by_model, "loss"))

    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "summary.jsonl"), "w") as f:
        for entry in summary:
            f.write(json.dumps(entry) + "\n")
        for pair in pairs:
            f.write(json.dumps({"pair": pair}) + "\n")

    group_columns = [g for g in groups if g in by_model["base"]["retained_loss_gain"]]
    lines = ["| model | norm. accuracy | " + " | ".join(f"retained: {g}" for g in group_columns) +
             " | **retained: mean** | accuracy | loss |",
             "|---" * (len(group_columns) + 5) + "|"]
    for entry in summary:
        accuracy = shown(entry["normalised_accuracy"]) if learned else "–"
        cells = [shown(entry["retained_loss_gain"][g]) for g in group_columns]
        lines.append(f"| {entry['model']} | {accuracy} | " + " | ".join(cells) +
                     f" | **{shown(entry['retained_loss_gain_mean'])}** | {shown(entry['accuracy'])} | "
                     f"{shown(entry['loss'])} |")
    lines += ["",
              f"Seeds {', '.join(map(str, seeds))}; mean ± 95% t half-width. Normalised accuracy over the tasks whose "
              f"expert beats the base model by >= {MIN_ACCURACY_GAIN} in every seed: " +
              (", ".join(learned) if learned else "none") + f". Retained loss gain over the tasks whose expert lowers "
              f"the base's loss by >= {MIN_LOSS_GAIN} nats in every seed: {', '.join(lowered)}. Accuracy and loss: "
              f"all {len(tasks)} tasks.", ""]
    for key, what in (("normalised_accuracy", "Normalised accuracy"), ("retained_loss_gain_mean", "Retained loss gain"),
                      ("accuracy", "Accuracy over all tasks"), ("loss", "Loss over all tasks")):
        lines.append("- " + separation_sentence([p for p in pairs if p["metric"] == key], what))
    table = "\n".join(lines) + "\n"
    with open(os.path.join(results, "table.md"), "w") as f:
        f.write(table)

    task_lines = ["| task (loss / accuracy, mean over seeds) | " + " | ".join(models) + " |",
                  "|---" * (len(models) + 1) + "|"]
    for t in tasks:
        kind = runs.rows[seeds[0]][expert_of[t]]["accuracy_kind"].get(t, "–")
        task_lines.append(f"| {t} ({kind}) | " + " | ".join(
            f"{mean(by_model[m]['task_loss'][t]):.2f} / {mean(by_model[m]['task_accuracy'][t]):.2f}" for m in models) + " |")
    with open(os.path.join(results, "tasks.md"), "w") as f:
        f.write("\n".join(task_lines) + "\n")

    plot(results, [by_model[m] for m in ["base"] + MERGES])
    print(table)


def plot(results, entries):
    with open(os.path.join(results, "normalised.dat"), "w") as f:
        f.write("# model retained_loss_gain half_width normalised_accuracy half_width (95% t-intervals over seeds)\n")
        for entry in entries:
            gain, gain_half = interval(entry["retained_loss_gain_mean"])
            accuracy, accuracy_half = interval(entry.get("normalised_accuracy", [float("nan")]))
            f.write(f"{entry['model']} {gain:.6f} {gain_half:.6f} {accuracy:.6f} {accuracy_half:.6f}\n")
    script = """set terminal pngcairo size 900,480 noenhanced
set output 'normalised.png'
set title 'Four task-group experts merged: mean and 95% t-interval over seeds'
set ylabel 'fraction of the expert (1 = the expert)'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.5 border -1
set xtics rotate by -30
set grid ytics
set key top left
plot 'normalised.dat' using 2:3:xtic(1) title 'retained loss gain', \\
     '' using 4:5 title 'normalised accuracy'
"""
    with open(os.path.join(results, "normalised.gp"), "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", "normalised.gp"], cwd=results, check=True)


if __name__ == "__main__":
    main()
