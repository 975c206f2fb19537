#!/usr/bin/env bash
# Fuzzes the safetensors header parser (lib/io/safetensors_header.cpp) with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer. The parser is torch-free, so only it, its two torch-free helpers and the fuzz
# target are compiled.
#
#   scripts/fuzz-safetensors.sh [SECONDS]      (default 60)
#
# Environment: LADLE_FUZZ_BUILD_DIR  where the binary, corpus and crash artifacts go (default <repo>/build-fuzz)
#              LADLE_FUZZ_CXX        the compiler (default clang++)
# Exit status: 0 no crash; 1 a crash (its input is saved under artifacts/ and printed) or a build failure;
#              77 no usable libFuzzer toolchain (ctest reports the test as skipped).
set -euo pipefail

seconds=${1:-60}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${LADLE_FUZZ_BUILD_DIR:-$repo/build-fuzz}
cxx=${LADLE_FUZZ_CXX:-clang++}
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
sources=(lib/io/safetensors_header.cpp lib/io/strict_json.cpp lib/io/dtype.cpp tests/fuzz/safetensors_header_fuzzer.cpp)
binary=$build/safetensors_header_fuzzer

command -v "$cxx" >/dev/null || { echo "fuzz-safetensors: $cxx not found; skipping" >&2; exit 77; }
mkdir -p "$build/corpus" "$build/seeds" "$build/artifacts"

# A trivial target tells a missing libFuzzer runtime (skip) apart from a build error in our code (failure).
probe=$build/probe.cpp
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' >"$probe"
if ! "$cxx" "${flags[@]}" "$probe" -o "$build/probe" 2>/dev/null; then
  echo "fuzz-safetensors: $cxx cannot build libFuzzer targets (install libclang-rt-dev); skipping" >&2
  exit 77
fi

stale=0
[ -x "$binary" ] || stale=1
if [ "$stale" = 0 ] && [ -n "$(find "$repo/lib/io" "$repo/lib/util/error.h" "$repo/tests/fuzz" -newer "$binary" -print -quit)" ]; then
  stale=1
fi
if [ "$stale" = 1 ]; then
  echo "fuzz-safetensors: compiling $binary"
  "$cxx" "${flags[@]}" -I "$repo" "${sources[@]/#/$repo/}" -o "$binary"
fi

# Seeds: small valid files (u64 little-endian header size, JSON header, zero-filled data section).
seed() {
  local name=$1 header=$2 data_size=$3 n i
  n=${#header}
  {
    for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(((n >> (8 * i)) & 255)))"; done
    printf '%s' "$header"
    head -c "$data_size" /dev/zero
  } >"$build/seeds/$name"
}
seed one_tensor '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' 8
seed metadata_and_scalar '{"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"I64","shape":[],"data_offsets":[12,20]}}    ' 20
seed empty '{}' 0
seed zero_size '{"e":{"dtype":"F8_E4M3","shape":[0,4],"data_offsets":[0,0]},"u":{"dtype":"U16","shape":[1],"data_offsets":[0,2]}}' 2
seed three_tensors '{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"y":{"dtype":"I32","shape":[2,0],"data_offsets":[8,8]},"z":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}' 11
# Near misses, so that mutations reach the range checks quickly.
seed overlap '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
seed hole '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}' 3
seed overflow '{"a":{"dtype":"U64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}' 8

dict=$build/safetensors.dict
{
  for token in '{' '}' '[' ']' ',' ':' '"' '"dtype"' '"shape"' '"data_offsets"' '"__metadata__"' '"format"' '"pt"' \
               '"BOOL"' '"U8"' '"I8"' '"F8_E5M2"' '"F8_E4M3"' '"I16"' '"U16"' '"F16"' '"BF16"' '"I32"' '"U32"' \
               '"F32"' '"F64"' '"I64"' '"U64"' '-1' '0' '1.5' '1e30' '18446744073709551615' '9223372036854775808' \
               '\u0000' '\ud800'; do
    printf '"%s"\n' "$(printf '%s' "$token" | sed 's/\\/\\\\/g; s/"/\\"/g')"
  done
} >"$dict"

log=$build/last-run.log
echo "fuzz-safetensors: running for ${seconds}s (corpus $build/corpus)"
set +e
"$binary" "$build/corpus" "$build/seeds" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
  -error_exitcode=1 -timeout_exitcode=1 -dict="$dict" -artifact_prefix="$build/artifacts/" \
  -print_final_stats=1 >"$log" 2>&1
status=$?
set -e

executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
[ -n "$executions" ] || executions=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)
corpus_size=$(find "$build/corpus" -type f | wc -l)
if [ "$status" -eq 0 ]; then
  echo "fuzz-safetensors: ${executions:-?} executions in ${seconds}s, corpus $corpus_size inputs, crashes: 0"
  exit 0
fi
tail -n 60 "$log" >&2
artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
echo "fuzz-safetensors: ${executions:-?} executions, crashes: 1 (input: ${artifact:-see $log})" >&2
exit 1
