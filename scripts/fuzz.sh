#!/usr/bin/env bash
# Fuzzes ladle's parsers of outside files with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, one target
# per parser (tests/fuzz/*_fuzzer.cpp; docs/fuzzing.md lists them with their figures).
#
#   scripts/fuzz.sh TARGET|all [SECONDS]    fuzz each target for SECONDS (default 60)
#   scripts/fuzz.sh TARGET|all --runs N     fuzz each target for N executions
#   scripts/fuzz.sh --list                  the targets
#
# The first run configures a CMake build folder of its own (clang++, -DLADLE_FUZZ=ON) and builds what it runs: the
# torch-free targets in minutes; train_config and merge_config with the whole core (about half an hour of CPU).
# Corpora grow across runs under BUILD/corpus/TARGET; seeds come from tests/fuzz/seeds and, through
# tests/fuzz/seed_corpora.py, from examples/ and the data folder.
#
# Environment: LADLE_FUZZ_BUILD_DIR  the build folder, with corpora, crash artifacts and logs (default <repo>/build-fuzz)
#              LADLE_FUZZ_CXX        the compiler (default clang++)
#              LADLE_DATA_DIR        where seeds are taken from: instructions/, tokenizers/ (default <repo>/data)
#              LADLE_FUZZ_LOG_DIR    where each target's libFuzzer log goes (default BUILD/logs)
#              LADLE_FUZZ_TIMEOUT    seconds of wall time one input may take before it counts as a finding (default 10;
#                                    a long run at the lowest priority beside other work needs more)
#              LADLE_FUZZ_SEED       libFuzzer's random seed (default: a new one each run); the ctest smoke runs fix it
#                                    with a fixed number of executions, so a suite run is repeatable
# Exit status: 0 no finding; 1 a finding (its input is saved under artifacts/ and printed) or a build failure;
#              2 a usage error; 77 no usable libFuzzer toolchain (ctest reports the test as skipped).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${LADLE_FUZZ_BUILD_DIR:-$repo/build-fuzz}
cxx=${LADLE_FUZZ_CXX:-clang++}
data=${LADLE_DATA_DIR:-$repo/data}
logs=${LADLE_FUZZ_LOG_DIR:-$build/logs}
mapfile -t targets < <(find "$repo/tests/fuzz" -maxdepth 1 -name '*_fuzzer.cpp' -printf '%f\n' | sed 's/_fuzzer\.cpp$//' | sort)

usage() { echo "usage: scripts/fuzz.sh TARGET|all [SECONDS | --runs N]   (targets: ${targets[*]})" >&2; exit 2; }
[ $# -ge 1 ] || usage
if [ "$1" = --list ]; then printf '%s\n' "${targets[@]}"; exit 0; fi
if [ "$1" = all ]; then
  selected=("${targets[@]}")
else
  printf '%s\n' "${targets[@]}" | grep -qx -- "$1" || usage
  selected=("$1")
fi
budget=(-max_total_time="${2:-60}")
if [ "${2:-}" = --runs ]; then
  [[ "${3:-}" =~ ^[0-9]+$ ]] || usage
  budget=(-runs="$3")
elif ! [[ "${2:-60}" =~ ^[0-9]+$ ]]; then
  usage
fi

command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found; skipping" >&2; exit 77; }
mkdir -p "$build/artifacts" "$build/logs" "$build/dicts" "$logs"
# A trivial target tells a missing libFuzzer runtime (skip) apart from a build error in our code (failure).
probe=$build/probe.cpp
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' >"$probe"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe" -o "$build/probe" 2>/dev/null; then
  echo "fuzz: $cxx cannot build libFuzzer targets (install libclang-rt-dev); skipping" >&2
  exit 77
fi

# One configure, build and seeding at a time in the folder (ctest may start several targets' runs at once).
exec 9>"$build/build.lock"
flock 9
if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "fuzz: configuring $build"
  CCACHE_BASEDIR=$repo cmake -S "$repo" -B "$build" -G Ninja -DLADLE_FUZZ=ON -DCMAKE_CXX_COMPILER="$cxx" \
    -DLADLE_BUILD_TESTS=OFF -DLADLE_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" >"$build/logs/configure.log"
fi
CCACHE_BASEDIR=$repo cmake --build "$build" --target "${selected[@]/%/_fuzzer}" >"$build/logs/build.log" 2>&1 || {
  tail -n 40 "$build/logs/build.log" >&2
  echo "fuzz: build failed (log: $build/logs/build.log)" >&2
  exit 1
}

# Seeds: the committed ones, those made from real files, and for the safetensors header small binary files
# (u64 little-endian header size, JSON header, zero-filled data section).
seeds=$build/seeds
python3 "$repo/tests/fuzz/seed_corpora.py" --repo "$repo" --data "$data" --out "$seeds"
safetensors_seed() {
  local name=$1 header=$2 data_size=$3 n i
  n=${#header}
  mkdir -p "$seeds/safetensors_header"
  {
    for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(((n >> (8 * i)) & 255)))"; done
    printf '%s' "$header"
    head -c "$data_size" /dev/zero
  } >"$seeds/safetensors_header/$name"
}
safetensors_seed one_tensor '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' 8
safetensors_seed metadata_and_scalar '{"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"I64","shape":[],"data_offsets":[12,20]}}    ' 20
safetensors_seed empty '{}' 0
safetensors_seed zero_size '{"e":{"dtype":"F8_E4M3","shape":[0,4],"data_offsets":[0,0]},"u":{"dtype":"U16","shape":[1],"data_offsets":[0,2]}}' 2
safetensors_seed three_tensors '{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"y":{"dtype":"I32","shape":[2,0],"data_offsets":[8,8]},"z":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}' 11
# Near misses, so that mutations reach the range checks quickly.
safetensors_seed overlap '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
safetensors_seed hole '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}' 3
safetensors_seed overflow '{"a":{"dtype":"U64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}' 8
flock -u 9

# Per target: its dictionary (the YAML one with every key the examples use) and its largest input.
dictionary() {
  case $1 in
    safetensors_header) cat "$repo/tests/fuzz/dicts/safetensors.dict" ;;
    npy) cat "$repo/tests/fuzz/dicts/npy.dict" ;;
    train_config | merge_config | dtm_config | evolve_config)
      cat "$repo/tests/fuzz/dicts/yaml.dict"
      grep -ohE '^ *-? *[a-z_]+:' "$repo"/examples/*.yml "$repo"/bench/evolve/*.yml | sed -E 's/^ *-? *//; s/.*/"&"/' | sort -u ;;
    chat_template) cat "$repo/tests/fuzz/dicts/jinja.dict" ;;
    *) cat "$repo/tests/fuzz/dicts/json.dict" ;;
  esac
}
max_len() {
  case $1 in
    hf_tokenizer_json) echo 20480 ;;  # the shrunk real tokenizer.json files are up to ~18 KB
    chat_template | tokenizer_config | dtm_config) echo 8192 ;;  # examples/dtm.yml is 5.3 KB
    *) echo 4096 ;;
  esac
}

status=0
for target in "${selected[@]}"; do
  corpus=$build/corpus/$target
  mkdir -p "$corpus"
  dictionary "$target" >"$build/dicts/$target.dict"
  seed_dirs=()
  for dir in "$repo/tests/fuzz/seeds/$target" "$seeds/$target"; do [ -d "$dir" ] && seed_dirs+=("$dir"); done
  log=$logs/$target.log
  start=$(date +%s)
  set +e
  "$build/tests/fuzz/${target}_fuzzer" "$corpus" "${seed_dirs[@]}" "${budget[@]}" -max_len="$(max_len "$target")" \
    ${LADLE_FUZZ_SEED:+-seed="$LADLE_FUZZ_SEED"} -timeout="${LADLE_FUZZ_TIMEOUT:-10}" -error_exitcode=1 -timeout_exitcode=1 -dict="$build/dicts/$target.dict" \
    -artifact_prefix="$build/artifacts/$target-" -print_final_stats=1 >"$log" 2>&1
  result=$?
  set -e
  seconds=$(($(date +%s) - start))
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)
  corpus_size=$(find "$corpus" -type f | wc -l)
  summary="${executions:-?} executions in ${seconds} s ($(( ${executions:-0} / (seconds > 0 ? seconds : 1) )) exec/s), corpus $corpus_size inputs, ${coverage:-cov: ?}"
  if [ "$result" -eq 0 ]; then
    echo "fuzz: $target: $summary, findings: 0"
  else
    status=1
    tail -n 60 "$log" >&2
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
    echo "fuzz: $target: $summary, findings: 1 (input: ${artifact:-see $log})" >&2
  fi
done
exit $status
