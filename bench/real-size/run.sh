#!/usr/bin/env bash
# The real-size run: randomly initialised bf16 checkpoints with the exact config.json and tensor shapes of
# Qwen3-0.6B and Llama-3.2-1B (scripts/model-configs/, scripts/make-shaped-checkpoint.py) and their real tokenizer
# folders (Qwen3's; Llama 3.1's for Llama-3.2-1B, the same 128,256-token vocabulary and template family), then:
#   1. `ladle train` with LoRA (bench/real-size/lora.yml) for a few steps on the instruction data through the
#      model's own chat template, under /usr/bin/time -v: peak RSS and step time;
#   2. the same LoRA step on [batch, seq] plain-text blocks in ladle and in an idiomatic Python PyTorch loop
#      (python_lora_loop.py), alternating REPEAT times: steady-state tokens/s of both, and their ratio;
#   3. (Qwen3) a second fine-tune with another seed and `ladle merge` (linear, equal weights) of the two;
#   4. (Qwen3) `ladle dtm` with a small `records` subset.
# Every step appends one JSON line to WORK/results.jsonl; the last lines printed are the summary. Run again after an
# interruption, it skips the steps whose lines are already there (remove results.jsonl to start over).
#
#   bench/real-size/run.sh [qwen3-0.6b] [llama-3.2-1b]        (default: both)
# Environment: BUILD (a built ladle tree; default build), WORK (default /var/tmp/ladle-real-size), THREADS (default:
# every core), STEPS (instruction steps, 4), WARMUP (2) and TIMED (4) throughput steps, BATCH (2), SEQ (256),
# REPEAT (2), DTM_RECORDS (32). Needs data/ (scripts/prepare-data.sh) and data/tokenizers
# (scripts/fetch-hf-tokenizers.sh). Heavy: run it alone, e.g. `nice bench/real-size/run.sh`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ladle=$(cd "${BUILD:-$repo/build}" && pwd)/ladle
work=${WORK:-/var/tmp/ladle-real-size}
threads=${THREADS:-$(nproc)}
steps=${STEPS:-4}
warmup=${WARMUP:-2}
timed=${TIMED:-4}
batch=${BATCH:-2}
seq=${SEQ:-256}
repeat=${REPEAT:-2}
dtm_records=${DTM_RECORDS:-32}
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(qwen3-0.6b llama-3.2-1b)
python=/usr/bin/python3
results=$work/results.jsonl
mkdir -p "$work"
[ -x "$ladle" ] || { echo "run.sh: no ladle at $ladle (build first, or set BUILD)" >&2; exit 1; }
[ -f "$repo/data/instructions/messages/train.jsonl" ] || { echo "run.sh: run scripts/prepare-data.sh first" >&2; exit 1; }

tokenizer_of() { case "$1" in qwen3-*) echo qwen3 ;; llama-*) echo llama3_1 ;; esac; }

# Runs a command under /usr/bin/time -v; appends {"name", "seconds", "peak_rss_gib", "exit"} to results.jsonl.
timed_run() {
  local name=$1; shift
  local log="$work/$name.log"
  /usr/bin/time -v "$@" > "$log" 2>&1 || { echo "run.sh: $name failed, see $log" >&2; tail -5 "$log" >&2; exit 1; }
  $python - "$name" "$log" >> "$results" <<'PY'
import json, re, sys
name, log = sys.argv[1], open(sys.argv[2]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", log).group(1)
seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
print(json.dumps({"name": name, "seconds": round(seconds, 1), "peak_rss_gib": round(rss / 2**20, 2)}))
PY
  tail -1 "$results"
}

# True when a step of that name has its line in results.jsonl already (a rerun goes on where the last one stopped).
finished() { [ -f "$results" ] && grep -q "\"name\": \"$1\"" "$results"; }

for model in "${models[@]}"; do
  folder=$work/$model
  if [ ! -f "$folder/model.safetensors" ]; then
    timed_run "make-$model" $python "$repo/scripts/make-shaped-checkpoint.py" "$repo/scripts/model-configs/$model.json" \
      "$repo/data/tokenizers/$(tokenizer_of "$model")" "$folder"
  fi
  common=(train --config "$here/lora.yml" --set "model.path=$folder" --set "threads=$threads" --set "batch_size=$batch"
          --set "data.max_length=$seq" --set overwrite_output_dir=true)
  # 1. LoRA on the instruction data through the model's chat template.
  finished "train-$model" ||
    timed_run "train-$model" "$ladle" "${common[@]}" --set "output_dir=$work/runs/$model-seed0" --set "max_steps=$steps"
  # 2. Throughput on identical shapes, ladle and Python alternating.
  for ((i = 0; i < repeat; i++)); do
    finished "blocks-$model-python-$i" && continue
    timed_run "blocks-$model-ladle-$i" "$ladle" "${common[@]}" --set "output_dir=$work/runs/$model-blocks" \
      --set data.format=text --set "data.train=$repo/data/corpus/valid.txt" --set "data.block_size=$seq" \
      --set "max_steps=$((warmup + timed))" --set lora.save_merged=false
    $python "$here/throughput.py" ladle "$work/runs/$model-blocks/metrics.jsonl" "$warmup" "$batch" "$seq" "$model" \
      >> "$results"
    tail -1 "$results"
    timed_run "blocks-$model-python-$i" $python "$here/python_lora_loop.py" "$folder" --batch "$batch" --seq "$seq" \
      --warmup "$warmup" --steps "$timed" --threads "$threads"
    # The loop's JSON line is the first line of the log (/usr/bin/time's report follows it).
    $python -c 'import json,sys; line = json.loads(next(l for l in open(sys.argv[1]) if l.startswith("{"))); line["model"] = sys.argv[2]; print(json.dumps(line))' \
      "$work/blocks-$model-python-$i.log" "$model" >> "$results"
    tail -1 "$results"
  done
done

if [[ " ${models[*]} " == *" qwen3-0.6b "* ]]; then
  folder=$work/qwen3-0.6b
  common=(train --config "$here/lora.yml" --set "model.path=$folder" --set "threads=$threads" --set "batch_size=$batch"
          --set "data.max_length=$seq" --set overwrite_output_dir=true)
  # 3. A second fine-tune, and the merge of the two.
  finished train-qwen3-0.6b-seed1 ||
    timed_run train-qwen3-0.6b-seed1 "$ladle" "${common[@]}" --set "output_dir=$work/runs/qwen3-0.6b-seed1" \
    --set "max_steps=$steps" --set seed=1
  cat > "$work/merge.yml" <<EOF
merge_method: linear
models:
  - model: $work/runs/qwen3-0.6b-seed0/final
    parameters: {weight: 1.0}
  - model: $work/runs/qwen3-0.6b-seed1/final
    parameters: {weight: 1.0}
dtype: float32
out_dtype: bfloat16
EOF
  finished merge-qwen3-0.6b ||
    timed_run merge-qwen3-0.6b "$ladle" merge "$work/merge.yml" "$work/runs/qwen3-0.6b-merged" --overwrite \
    --threads "$threads"
  # 4. DTM on a small subset of the records: embed, k-means, 2 LoRA runs, their merge, evaluation.
  cat > "$work/dtm.yml" <<EOF
output_dir: $work/runs/qwen3-0.6b-dtm
train: $here/lora.yml
train_overrides: {model.path: $folder, threads: $threads, batch_size: $batch, data.max_length: $seq}
total_steps: 4
records: $dtm_records
embed: {batch_size: 8, max_length: $seq, bf16: true}
cluster: {k: 2}
evaluation: {valid: $repo/data/instructions/messages/valid.jsonl, max_examples: 16, generation_examples: 0, batch_size: 8}
baselines: {vanilla: false, random_split: false, uniform_soup: false}
EOF
  finished dtm-qwen3-0.6b || timed_run dtm-qwen3-0.6b "$ladle" dtm --config "$work/dtm.yml"
fi

$python "$here/summary.py" "$results" "$work" "$batch" "$seq"
