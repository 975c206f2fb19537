#!/usr/bin/env bash
# The larger Disperse-Then-Merge comparison: `ladle dtm` over bench/dtm/dtm-large.yml (K = 4, 12,000 records, 480
# steps per method, three seeds, every baseline and three merge variants, the alignment tax), timed, then its report
# copied into bench/dtm/results/: report.md (tables, intervals, alignment tax, diagnostic, compute), results.tsv
# (per set, model and seed: loss and accuracy averaged over tasks, loss over every token), compute.tsv (per run:
# steps, trainer wall and CPU seconds), the plots, and run.txt (the command's wall time and the machine's load).
# Finished stages are reused, so an interrupted run continues.
# Usage: bench/dtm/run_experiment.sh
# Environment: BUILD (a built ladle build tree; default build), JOBS (runs and evaluations at once; default nproc).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ladle=$(cd "${BUILD:-$root/build}" && pwd)/ladle
out=$root/out/dtm-large
results=$here/results
mkdir -p "$results"

bash "$root/scripts/prepare-data.sh"
LADLE_BUILD_DIR=$(dirname "$ladle") bash "$root/scripts/pretrain-base.sh"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
"$ladle" dtm --config "$here/dtm-large.yml" --jobs "${JOBS:-$(nproc)}"
seconds=$(( $(date +%s) - started ))

cp "$out/report/report.md" "$results/report.md"
for plot in task-loss.png training-curves.png tax.png; do
  [[ -f $out/report/$plot ]] && cp "$out/report/$plot" "$results/$plot"
done
python3 - "$out" "$results" <<'PY'
import json, pathlib, statistics, sys
out, results = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
report = json.loads((out / "report/report.json").read_text())
rows = ["set\tmodel\tseed\tmean_task_loss\tmean_task_accuracy\tloss_every_token"]
for set_name in report["sets"]:
    for model in report["models"]:
        m = model["metrics"]
        tasks = sorted({k.split("/")[2] for k in m if k.startswith(set_name + "/loss/")})
        losses = [m[f"{set_name}/loss/{t}"] for t in tasks]
        accuracies = [m.get(f"{set_name}/choice_accuracy/{t}", m.get(f"{set_name}/exact_match/{t}")) for t in tasks]
        accuracies = [a for a in accuracies if a is not None]
        rows.append("\t".join([set_name, model["name"], str(model["seed"]),
                               f"{statistics.mean(losses):.4f}" if losses else "",
                               f"{statistics.mean(accuracies):.4f}" if accuracies else "",
                               f"{m[set_name + '/loss']:.4f}"]))
(results / "results.tsv").write_text("\n".join(rows) + "\n")
rows = ["run\tfamily\tsteps\ttrain_seconds\ttrain_cpu_seconds"]
for done in sorted((out / "runs").glob("*/dtm-run.json")):
    run = json.loads(done.read_text())
    rows.append(f"{run['name']}\t{run['family']}\t{run['steps']}\t{run.get('train_seconds', 0):.1f}\t"
                f"{run.get('train_cpu_seconds', 0):.1f}")
(results / "compute.tsv").write_text("\n".join(rows) + "\n")
PY
{
  echo "ladle dtm --config bench/dtm/dtm-large.yml --jobs ${JOBS:-$(nproc)}: ${seconds} s wall"
  echo "load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
} > "$results/run.txt"
cat "$results/run.txt"
echo "results in $results"
