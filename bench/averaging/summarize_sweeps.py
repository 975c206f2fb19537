#!/usr/bin/python3
"""Summarises bench/averaging/run_averaging_sweeps.sh over its seeds: means with 95% t-intervals.

  summarize_sweeps.py OUT_DIR RESULTS_DIR PARTS SEED [SEED ...]     (PARTS: "a", "b" or "a b")

Reads OUT_DIR/posthoc-SEED/{metrics.jsonl, reconstructions/posthoc.jsonl} and OUT_DIR/constant-SEED/merges.jsonl;
writes RESULTS_DIR/posthoc_sweep.tsv (reconstructions), posthoc_tracked.tsv (tracked EMAs and the raw weights),
posthoc_sweep.gp (the gnuplot script of posthoc_sweep.png), posthoc_sweep.md and checkpoint_merging.md.
"""

import json
import math
import os
import sys

# Two-sided 95% quantiles of Student's t by degrees of freedom (n - 1 for n seeds).
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def interval(values):
    """Mean and half-width of the 95% t-interval of the mean."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, T_975[n - 1] * sd / math.sqrt(n)


def shown(values, digits=4):
    mean, half = interval(values)
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def last_eval(path):
    return [r for r in read_jsonl(path) if r.get("kind") == "eval"][-1]


def posthoc(out, results, seeds):
    reconstructions = {}  # sigma_rel -> [loss per seed]
    tracked = {}  # name -> [loss per seed]
    for seed in seeds:
        run = os.path.join(out, f"posthoc-{seed}")
        for record in read_jsonl(os.path.join(run, "reconstructions", "posthoc.jsonl")):
            reconstructions.setdefault(record["sigma_rel"], []).append(record["valid/loss"])
        final = last_eval(os.path.join(run, "metrics.jsonl"))
        tracked.setdefault("raw", []).append(final["eval/loss"])
        for key, value in final.items():
            if key.startswith("ema-s") and key.endswith("/loss") and key.count("/") == 1:
                tracked.setdefault(key[: -len("/loss")], []).append(value)
    with open(os.path.join(results, "posthoc_sweep.tsv"), "w") as f:
        f.write("sigma_rel\tmean\thalf_width_95\n")
        for sigma_rel in sorted(reconstructions):
            mean, half = interval(reconstructions[sigma_rel])
            f.write(f"{sigma_rel}\t{mean:.6f}\t{half:.6f}\n")
    with open(os.path.join(results, "posthoc_tracked.tsv"), "w") as f:
        f.write("sigma_rel\tmean\thalf_width_95\tname\n")
        for name in sorted(n for n in tracked if n != "raw"):
            mean, half = interval(tracked[name])
            f.write(f"{int(name[len('ema-s'):]) / 100}\t{mean:.6f}\t{half:.6f}\t{name}\n")
    raw_mean, raw_half = interval(tracked["raw"])
    # Paths relative to RESULTS_DIR: run_averaging_sweeps.sh runs gnuplot there.
    with open(os.path.join(results, "posthoc_sweep.gp"), "w") as f:
        f.write(f"""set terminal pngcairo size 800,500 font ",10" noenhanced
set output 'posthoc_sweep.png'
set title 'Held-out loss against EMA width, {len(seeds)} seeds (mean, 95% interval)'
set xlabel 'sigma_rel (power EMA width relative to the run)'
set ylabel 'held-out loss (nats/token)'
set logscale x
set xtics (0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.25)
set grid
set key top left
set xrange [0.015:0.3]
plot 'posthoc_sweep.tsv' using 1:2:3 with yerrorlines title 'post-hoc reconstruction (from the 0.05/0.10 snapshots)', \\
     'posthoc_tracked.tsv' using 1:2:3 with yerrorbars pointtype 7 pointsize 1.5 title 'EMA tracked during training', \\
     {raw_mean} with lines dashtype 2 title 'raw final weights ({raw_mean:.4f} ± {raw_half:.4f})'
""")
    lines = ["| sigma_rel | post-hoc reconstruction | tracked EMA | tracked − reconstructed (paired) |",
             "|---|---|---|---|"]
    for sigma_rel in sorted(reconstructions):
        name = f"ema-s{round(sigma_rel * 100):03d}"
        if name in tracked:
            differences = [t - r for t, r in zip(tracked[name], reconstructions[sigma_rel])]
            lines.append(f"| {sigma_rel:g} | {shown(reconstructions[sigma_rel])} | {shown(tracked[name])} | "
                         f"{shown(differences)} |")
        else:
            lines.append(f"| {sigma_rel:g} | {shown(reconstructions[sigma_rel])} | | |")
    lines.append(f"| raw final weights | | {shown(tracked['raw'])} | |")
    best = min(reconstructions, key=lambda s: interval(reconstructions[s])[0])
    differences = [r - w for r, w in zip(reconstructions[best], tracked["raw"])]
    lines.append("")
    lines.append(f"Best width by mean: sigma_rel {best:g}; its loss minus the raw weights' (paired): "
                 f"{shown(differences)}.")
    with open(os.path.join(results, "posthoc_sweep.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def checkpoint_merging(out, results, seeds):
    losses = {}  # scheme -> [loss per seed]
    order = []
    for seed in seeds:
        for record in read_jsonl(os.path.join(out, f"constant-{seed}", "merges.jsonl")):
            if record["scheme"] not in losses:
                order.append(record["scheme"])
            losses.setdefault(record["scheme"], []).append(record["valid/loss"])
    baselines = ("cosine decay, last checkpoint", "constant, last checkpoint")
    lines = ["| model | held-out loss | minus cosine decay (paired) | minus the constant run's last checkpoint (paired) |",
             "|---|---|---|---|"]
    for scheme in order:
        label = scheme if "," in scheme else f"constant, merge-checkpoints {scheme}"
        cells = [label, shown(losses[scheme])]
        for baseline in baselines:
            differences = [a - b for a, b in zip(losses[scheme], losses[baseline])]
            cells.append("—" if scheme == baseline else shown(differences))
        lines.append("| " + " | ".join(cells) + " |")
    with open(os.path.join(results, "checkpoint_merging.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    out, results, parts, seeds = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
    for part, summarize, table in (("a", posthoc, "posthoc_sweep.md"), ("b", checkpoint_merging, "checkpoint_merging.md")):
        if part in parts:
            summarize(out, results, seeds)
            with open(os.path.join(results, table)) as f:
                print(f.read())


if __name__ == "__main__":
    main()
