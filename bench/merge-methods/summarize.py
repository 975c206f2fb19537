#!/usr/bin/python3
"""Summarises the merge-methods experiment over its seeds (bench/merge-methods/run_experiment.sh).

  summarize.py OUT_DIR RESULTS_DIR SEED [SEED ...]

Reads OUT_DIR/base.jsonl and OUT_DIR/seed-S/scores.jsonl (`ladle evaluate` lines: the experts "expert-GROUP" and
the merges, labelled by method). FusionBench's normalised accuracy of a model on task t of group g is
acc(model, t) / acc(expert-g, t), the expert of the same seed. A task enters the normalised figures when its
expert's accuracy is at least MIN_EXPERT_ACCURACY in every seed (below it the ratio is noise over a near-zero
denominator); the absolute figures take every task. Per model: the normalised accuracy per group (mean over its
tasks) and over all those tasks, the absolute accuracy and the response loss averaged over every task, each as
the mean over seeds with a 95% t-interval; and for every pair of merges the paired (same seed, same experts)
difference of their normalised mean accuracy, "separated" when its 95% t-interval excludes 0.
Writes RESULTS_DIR/summary.jsonl, table.md, tasks.md, normalised.dat, normalised.gp and normalised.png (gnuplot),
and prints table.md.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "averaging"))
from summarize_sweeps import interval, read_jsonl  # noqa: E402  (the 95% t-interval of the benchmarks)

MIN_EXPERT_ACCURACY = 0.2
MERGES = ["linear", "task_arithmetic", "ties", "dare_ties", "tsv_m", "iso_cts", "evolved"]


def load(out_dir, seeds):
    base = {row["label"]: row for row in read_jsonl(os.path.join(out_dir, "base.jsonl"))}["base"]
    runs = {}
    for seed in seeds:
        rows = {row["label"]: row for row in read_jsonl(os.path.join(out_dir, f"seed-{seed}", "scores.jsonl"))}
        rows["base"] = base
        runs[seed] = rows
    return runs


def mean(values):
    return sum(values) / len(values)


def shown(values, digits=3):
    centre, half = interval(values)
    return f"{centre:.{digits}f} ± {half:.{digits}f}"


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out_dir, results = sys.argv[1], sys.argv[2]
    seeds = [int(seed) for seed in sys.argv[3:]]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "groups.json")) as f:
        groups = json.load(f)
    expert_of = {task: "expert-" + group for group, tasks in groups.items() for task in tasks}
    runs = load(out_dir, seeds)
    tasks = sorted(expert_of)
    measurable = [t for t in tasks
                  if all(runs[s][expert_of[t]]["accuracy"].get(t, 0) >= MIN_EXPERT_ACCURACY for s in seeds)]
    models = ["base"] + ["expert-" + group for group in groups] + MERGES

    def normalised(seed, model, chosen):
        rows = runs[seed]
        return mean([rows[model]["accuracy"].get(t, 0) / rows[expert_of[t]]["accuracy"][t] for t in chosen])

    summary = []
    for model in models:
        entry = {"model": model, "seeds": seeds, "measurable_tasks": measurable, "normalised": {}}
        for group, group_tasks in groups.items():
            chosen = [t for t in group_tasks if t in measurable]
            if chosen:
                entry["normalised"][group] = [normalised(s, model, chosen) for s in seeds]
        entry["normalised"]["mean"] = [normalised(s, model, measurable) for s in seeds]
        entry["accuracy"] = [mean([runs[s][model]["accuracy"].get(t, 0) for t in tasks]) for s in seeds]
        entry["loss"] = [mean([runs[s][model]["per_task"][t] for t in tasks]) for s in seeds]
        entry["task_accuracy"] = {t: [runs[s][model]["accuracy"].get(t, 0) for s in seeds] for t in tasks}
        summary.append(entry)
    by_model = {entry["model"]: entry for entry in summary}

    pairs = []
    for i, a in enumerate(MERGES):
        for b in MERGES[i + 1:]:
            differences = [x - y for x, y in zip(by_model[a]["normalised"]["mean"], by_model[b]["normalised"]["mean"])]
            centre, half = interval(differences)
            pairs.append({"a": a, "b": b, "difference": centre, "half_width": half,
                          "separated": abs(centre) > half})

    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "summary.jsonl"), "w") as f:
        for entry in summary:
            f.write(json.dumps(entry) + "\n")
        for pair in pairs:
            f.write(json.dumps({"pair": pair}) + "\n")

    group_columns = [g for g in groups if g in by_model["base"]["normalised"]]
    lines = [f"Normalised accuracy (FusionBench: accuracy / the group expert's, over the tasks where every seed's "
             f"expert reaches {MIN_EXPERT_ACCURACY:.0%}: {', '.join(measurable)}), mean ± 95% t half-width over "
             f"seeds {', '.join(map(str, seeds))}; absolute accuracy and response loss averaged over all "
             f"{len(tasks)} tasks.", "",
             "| model | " + " | ".join(f"norm. {g}" for g in group_columns) +
             " | **norm. mean** | accuracy | loss |",
             "|---" * (len(group_columns) + 4) + "|"]
    for entry in summary:
        cells = [shown(entry["normalised"][g]) for g in group_columns]
        lines.append(f"| {entry['model']} | " + " | ".join(cells) + f" | **{shown(entry['normalised']['mean'])}** | "
                     f"{shown(entry['accuracy'])} | {shown(entry['loss'])} |")
    separated = [p for p in pairs if p["separated"]]
    lines += ["", "Paired differences of the normalised mean between merges (same seed), 95% t-interval: " +
              (f"{len(separated)} of {len(pairs)} pairs separated: " +
               "; ".join(f"{p['a']} − {p['b']} = {p['difference']:+.3f} ± {p['half_width']:.3f}" for p in separated)
               if separated else f"none of the {len(pairs)} pairs separated") + "."]
    table = "\n".join(lines) + "\n"
    with open(os.path.join(results, "table.md"), "w") as f:
        f.write(table)

    task_lines = ["| task (accuracy, mean over seeds) | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for t in tasks:
        kind = runs[seeds[0]][expert_of[t]]["accuracy_kind"].get(t, "–")
        task_lines.append(f"| {t} ({kind}) | " +
                          " | ".join(f"{mean(by_model[m]['task_accuracy'][t]):.3f}" for m in models) + " |")
    with open(os.path.join(results, "tasks.md"), "w") as f:
        f.write("\n".join(task_lines) + "\n")

    plot(results, [by_model[m] for m in ["base"] + MERGES])
    print(table)


def plot(results, entries):
    with open(os.path.join(results, "normalised.dat"), "w") as f:
        f.write("# model mean half_width (normalised mean accuracy, 95% t-interval over seeds)\n")
        for entry in entries:
            centre, half = interval(entry["normalised"]["mean"])
            f.write(f"{entry['model']} {centre:.6f} {half:.6f}\n")
    script = """set terminal pngcairo size 900,480
set output 'normalised.png'
set title 'Merging four task-group experts: normalised accuracy (mean, 95% t-interval over seeds)'
set ylabel 'accuracy / expert accuracy'
set yrange [0:*]
set style fill solid 0.5 border -1
set boxwidth 0.6
set xtics rotate by -30
set grid ytics
unset key
plot 'normalised.dat' using 0:2:3:xtic(1) with boxerrorbars lc rgb '#4477aa', 1 with lines dt 2 lc rgb 'black'
"""
    with open(os.path.join(results, "normalised.gp"), "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", "normalised.gp"], cwd=results, check=True)


if __name__ == "__main__":
    main()
