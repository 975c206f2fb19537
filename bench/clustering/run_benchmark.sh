#!/usr/bin/env bash
# Clustering benchmark (issue 7):
#   1. faiss k-means on 326,154 x 768 random float32 vectors (the DTM paper's data size), K=4, 20 iterations:
#      wall time (target <= 10 s on 2 cores) and ladle's kmeans_partition against raw faiss::Clustering on the same
#      data (target within 10%);
#   2. embedding throughput (records/s, tokens/s) of clustering::Embedder against the model's plain forward on the
#      same batches, for a random Llama (or MODEL) on the instruction set, in fp32 and under bf16 autocast.
# Timings are the best and the median of REPEAT interleaved runs, wall and process CPU time: on a machine others
# load too, the best wall time and the CPU time show the work itself (2 OpenMP threads on 2 busy cores can run 5-10x
# slower than on idle ones), so k-means is also run with one thread.
# The program is built against an installed copy of BUILD_DIR, as a user's project would use ladle.
# Usage: bench/clustering/run_benchmark.sh
# Environment: BUILD_DIR (a configured and built ladle tree; default build), WORK (scratch; default
# /var/tmp/ladle-clustering-bench), REPEAT (default 3), DATA (instruction JSONL; default data/instructions/train.jsonl,
# else the tiny build's), MODEL (a Hugging Face folder with tokenizer.model; default the project's base model
# data/base-model from scripts/pretrain-base.sh when it exists, else a random Llama, hidden 256, 4 layers, with a
# sentencepiece tokenizer trained here), LIMIT (records embedded; default 0 = all), OMP_NUM_THREADS (threads of the
# all-cores runs; default every core).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build_dir=$(cd "${BUILD_DIR:-$repo/build}" && pwd)
work=${WORK:-/var/tmp/ladle-clustering-bench}
repeat=${REPEAT:-3}
limit=${LIMIT:-0}
data=${DATA:-$repo/data/instructions/train.jsonl}
[[ -f $data ]] || data=$repo/build/data-tiny/instructions/train.jsonl
[[ -f $data ]] || { echo "no instruction data: run scripts/prepare-data.sh or set DATA" >&2; exit 1; }

mkdir -p "$work"
cmake --build "$build_dir" > "$work/ladle-build.log"
source "$here/../build-against-install.sh"
build_against_installed_ladle "$build_dir" "$here" "$work"
bench=$work/build/clustering_benchmark

model=${MODEL:-}
if [[ -z $model && -f $repo/data/base-model/model.safetensors ]]; then model=$repo/data/base-model; fi
model_args=()
if [[ -n $model ]]; then
  tokenizer=$model/tokenizer.model
  model_args=(--model "$model")
else
  tokenizer=$work/tokenizer.model
  corpus=$(dirname "$data")/../corpus/train.txt
  [[ -f $tokenizer ]] || "$build_dir/ladle" --quiet tokenizer train --input "$corpus" --output "$tokenizer" \
    --vocab-size 2000 --input-sentence-size 200000 > /dev/null
fi

echo "## machine: load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), BLAS $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
echo
"$bench" kmeans --repeat "$repeat"
echo
OMP_NUM_THREADS=1 "$bench" kmeans --repeat "$repeat"
for precision in "" --bf16; do
  echo
  "$bench" embed --tokenizer "$tokenizer" --data "$data" --limit "$limit" --repeat "$repeat" "${model_args[@]}" $precision
done
