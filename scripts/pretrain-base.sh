#!/usr/bin/env bash
# Pretrains the project's default base model (examples/pretrain-base.yml: a small Llama trained from scratch on
# the bundled corpus) and writes it as a Hugging Face folder with its sentencepiece tokenizer.model:
#
#   scripts/pretrain-base.sh [--data DIR] [--out DIR] [--set key=value ...]
#     --data DIR   the data folder whose corpus/{train,valid}.txt it trains and evaluates on, and where the
#                  tokenizer is kept (DIR/tokenizer.model, trained on the corpus when missing); default data/,
#                  built by scripts/prepare-data.sh when its corpus is missing
#     --out DIR    the model folder to write (default: DATA/base-model)
#     --set K=V    passed on to `ladle train` after the script's own settings, e.g. --set max_steps=5 (repeatable)
#   Environment: LADLE (the ladle executable; default ${LADLE_BUILD_DIR:-build}/ladle, built with
#   scripts/build.sh when missing).
#
# Idempotent: when OUT holds config.json, model.safetensors and tokenizer.model it says so and exits. The run
# works in OUT.partial/ (its checkpoints every 100 steps let an interrupted run continue where it stopped) and
# OUT appears only when complete, by a rename. OUT also keeps the run's record: pretrain_config.json (the
# resolved config) and pretrain_metrics.jsonl (training loss, held-out loss and perplexity).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ladle=${LADLE:-${LADLE_BUILD_DIR:-$repo/build}/ladle}
data=$repo/data
out=
sets=()

while [ $# -gt 0 ]; do
  case "$1" in
    --data|--out|--set)
      [ $# -ge 2 ] || { echo "pretrain-base.sh: $1 needs a value" >&2; exit 2; }
      case "$1" in --data) data=$2 ;; --out) out=$2 ;; --set) sets+=(--set "$2") ;; esac
      shift ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pretrain-base.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-$data/base-model}
work=$out.partial

log() { echo "[pretrain-base] $*"; }
started=$SECONDS

# The folder is renamed into place only when complete, so these files mean a finished run.
complete() { [ -f "$1/config.json" ] && [ -f "$1/model.safetensors" ] && [ -f "$1/tokenizer.model" ]; }
if complete "$out"; then
  log "$out is complete (config.json, model.safetensors, tokenizer.model); nothing to do"
  exit 0
fi

if [ ! -x "$ladle" ]; then
  [ -z "${LADLE:-}" ] || { echo "pretrain-base.sh: LADLE=$ladle is not an executable" >&2; exit 1; }
  log "building ladle ($ladle is missing)"
  bash "$repo/scripts/build.sh"
fi
if [ ! -f "$data/corpus/train.txt" ] || [ ! -f "$data/corpus/valid.txt" ]; then
  log "preparing the data ($data/corpus is missing)"
  bash "$repo/scripts/prepare-data.sh" --out "$data"
fi

resume=()
if compgen -G "$work/checkpoints/step-*/trainer_state.json" > /dev/null; then
  log "continuing the interrupted run in $work"
  resume=(--resume "$work")
fi
"$ladle" train --config "$repo/examples/pretrain-base.yml" "${resume[@]}" \
  --set "output_dir=$work" --set overwrite_output_dir=true \
  --set "data.train=$data/corpus/train.txt" --set "data.valid=$data/corpus/valid.txt" \
  --set "tokenizer.path=$data/tokenizer.model" --set "tokenizer.train_input=$data/corpus/train.txt" \
  "${sets[@]}"

cp "$work/train_config.json" "$work/final/pretrain_config.json"
cp "$work/metrics.jsonl" "$work/final/pretrain_metrics.jsonl"
if [ -e "$out" ]; then
  log "replacing the incomplete $out"
  rm -rf "$out"
fi
mv -T "$work/final" "$out"
rm -rf "$work"
log "wrote $out in $((SECONDS - started))s"
