#!/usr/bin/env bash
# Online merging experiment (issue #8 part 2) on the real data (scripts/prepare-data.sh builds data/):
#   1. reference fine-tune ("SFT"): data/base-model on tasks A for STEPS steps;
#   2. from the reference, fine-tune on tasks B for STEPS steps (the paper's setting: the policy starts from the
#      SFT model and τ_ref = θ_ref − θ_base is the SFT delta), plain and with online merging (OnDARE, OnTIES) at
#      the settings of SETTINGS below;
#   3. the offline alternative: the plain run plus c·τ_ref (task arithmetic through `ladle merge`), for the c that
#      the online runs' reference weights add over the run (α·STEPS);
#   4. held-out loss of every model on valid.jsonl (per task: the tuned tasks B, the reference's tasks A) and on
#      the shifted set (shifted.jsonl), through `ladle wise-ft --alpha 1` (which evaluates the model as it is).
# Writes out/online-merge/ (runs, evaluations) and bench/online-merge/results/{results.md,results.tsv,losses.png}.
# Usage: bench/online-merge/run_experiment.sh
# Environment: BUILD (a built ladle build tree; default build), STEPS (default 150), MAX_EXAMPLES (held-out
# examples per set, default 1000), THREADS (default 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ladle=$(cd "${BUILD:-$root/build}" && pwd)/ladle
out=$root/out/online-merge
results=$here/results
steps=${STEPS:-150}
max_examples=${MAX_EXAMPLES:-1000}
threads=(--threads "${THREADS:-2}")
tasks_a='[syllables, spam, part_of_speech, pronunciation]'
tasks_b='[arithmetic, synonym, definition, sotu_president]'
# name operator density reference-weight [sign election]: α = 2e-4 is the authors' ratio to the learning rate (1e-7 at 1e-6; ours
# is 2e-3), 0.5/STEPS adds about half of τ̂ over the run.
half=$(awk -v s="$steps" 'BEGIN { printf "%.6g", 0.5 / s }')
SETTINGS=(
  "ondare-p0.5-a2e-4 ondare 0.5 2e-4"
  "onties-p0.5-a2e-4 onties 0.5 2e-4"
  "ondare-p0.1-a2e-4 ondare 0.1 2e-4"
  "onties-p0.1-a2e-4 onties 0.1 2e-4"
  "onties-p0.1-a2e-4-weighted onties 0.1 2e-4 weighted"
  "ondare-p0.5-a$half ondare 0.5 $half"
  "onties-p0.5-a$half onties 0.5 $half"
)
data=$root/data/instructions
mkdir -p "$out" "$results"

bash "$root/scripts/prepare-data.sh"
started=$(date +%s)

# $1 run name, then --set arguments.
finetune() {
  local name=$1
  shift
  if [[ ! -f $out/$name/final/config.json ]]; then
    "$ladle" "${threads[@]}" train --config "$here/finetune.yml" --set "output_dir=$out/$name" \
      --set "max_steps=$steps" --set overwrite_output_dir=true "$@"
  fi
}

finetune reference --set "data.tasks=$tasks_a"
from_reference=(--set "model.path=$out/reference/final" --set "data.tasks=$tasks_b")
finetune plain "${from_reference[@]}"
online_runs=()
offline_weights=()
for setting in "${SETTINGS[@]}"; do
  read -r name operator density weight election <<<"$setting"
  finetune "$name" "${from_reference[@]}" --set "online_merging.reference_model=$out/reference/final" \
    --set "online_merging.base_model=$root/data/base-model" --set "online_merging.operator=$operator" \
    --set "online_merging.density=$density" --set "online_merging.reference_weight=$weight" \
    --set "online_merging.sign_election=${election:-sum}"
  online_runs+=("$name")
  offline_weights+=("$(awk -v a="$weight" -v s="$steps" 'BEGIN { printf "%.3g", a * s }')")
done

# Offline: θ_plain + c·τ_ref = base + (θ_plain − base) + c·(θ_ref − base).
offline_runs=()
for c in $(printf '%s\n' "${offline_weights[@]}" | sort -u); do
  name=plain+${c}tau
  if [[ ! -f $out/$name/final/config.json ]]; then
    mkdir -p "$out/$name"
    cat >"$out/$name/merge.yml" <<YML
merge_method: task_arithmetic
base_model: $root/data/base-model
models:
  - {model: $out/plain/final, parameters: {weight: 1}}
  - {model: $out/reference/final, parameters: {weight: $c}}
dtype: float32
YML
    "$ladle" merge "$out/$name/merge.yml" "$out/$name/final" --overwrite
  fi
  offline_runs+=("$name")
done

# Held-out losses of each model as it is (alpha 1), per task, on valid and shifted.
runs=(base reference plain "${online_runs[@]}" "${offline_runs[@]}")
for run in "${runs[@]}"; do
  model=$out/$run/final
  [[ $run == base ]] && model=$root/data/base-model
  if [[ ! -f $out/eval-$run/wise_ft.tsv ]]; then
    "$ladle" "${threads[@]}" wise-ft "$root/data/base-model" "$model" "$out/eval-$run" --alpha 1 \
      --valid "$data/valid.jsonl" --shifted "$data/shifted.jsonl" --max-examples "$max_examples" --bf16 --overwrite
  fi
done
echo "runtime: $(( $(date +%s) - started )) s (fine-tunes and evaluations, excluding runs reused from out/)"

# One row per model: mean per-task loss over tasks B (tuned), tasks A (reference), and the shifted set's loss.
python3 - "$out" "$results" "$steps" "${runs[@]}" <<'PY'
import csv, sys
out, results, steps, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
tasks_a = ["syllables", "spam", "part_of_speech", "pronunciation"]
tasks_b = ["arithmetic", "synonym", "definition", "sotu_president"]
fixed = {"base": "base model", "reference": "reference (tasks A)", "plain": "B from reference, plain AdamW"}

def label(run):
    if run in fixed:
        return fixed[run]
    if run.startswith("plain+"):
        return f"plain + {run[len('plain+'):-len('tau')]}·τ_ref (offline task arithmetic)"
    election = " weighted election" if run.endswith("-weighted") else ""
    operator, density, weight = run.removesuffix("-weighted").split("-", 2)
    name = {"ondare": "OnDARE", "onties": "OnTIES"}[operator]
    return f"B from reference, {name} p={density[1:]} α={weight[1:]}{election}"

rows = []
for run in runs:
    with open(f"{out}/eval-{run}/wise_ft.tsv") as f:
        metrics = {k: float(v) for k, v in next(csv.DictReader(f, delimiter="\t")).items() if v not in ("", None)}
    mean = lambda tasks: sum(metrics[f"id/loss/{t}"] for t in tasks) / len(tasks)
    rows.append([run, label(run), mean(tasks_b), mean(tasks_a), metrics["id/loss"], metrics["ood/loss"]])
with open(f"{results}/results.tsv", "w") as f:
    f.write("run\ttuned_B\treference_A\tvalid_all\tshifted\n")
    for r in rows:
        f.write("\t".join([r[0]] + [f"{x:.4f}" for x in r[2:]]) + "\n")
with open(f"{results}/results.md", "w") as f:
    f.write(f"{steps} steps per fine-tune (AdamW, lr 2e-3 cosine); online merging as the authors' optimizers: "
            "τ̂ sparsified once, each step α·τ̂ + (1 − α)·sparse(update); p = density, α = reference weight.\n\n")
    f.write("| model | loss, tuned tasks B | loss, reference tasks A | loss, all valid | loss, shifted set |\n")
    f.write("|---|---:|---:|---:|---:|\n")
    for r in rows:
        f.write(f"| {r[1]} | {r[2]:.4f} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.4f} |\n")
print(open(f"{results}/results.md").read())
PY

gnuplot <<GP
set terminal pngcairo size 1100,520 font ",9"
set output '$results/losses.png'
set title 'Held-out loss (nats/token) after fine-tuning on tasks B from the reference'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'held-out loss'
set key top center horizontal autotitle columnheader
set yrange [0:11.5]
set xtics rotate by -30
set grid y
plot '$results/results.tsv' using 2:xtic(1) title 'tuned tasks B', '' using 3 title 'reference tasks A', \
     '' using 5 title 'shifted set'
GP
