#!/usr/bin/env bash
# Merge benchmark: `ladle merge` of 4 synthetic Llama-shaped inputs of about 1 GiB each (page cache warm), with
# linear and ties, against two yardsticks measured in the same run on the same file system:
#   wall / I/O time: I/O time = reading every input once (cat > /dev/null) + writing the output's bytes once
#                    with fsync (ladle's writer fsyncs its shards), measured two ways: through the page cache
#                    (cat | dd conv=fsync, the issue's yardstick) and with direct I/O as ladle writes its shards
#                    (cat | dd oflag=direct conv=fsync). Target <= 1.3.
#   peak RSS / bound: bound = 4 x the largest tensor + the output shard size (/usr/bin/time -v). Target <= 1.5.
# Usage: bench/merge/run_benchmark.sh
# Environment: LADLE (the ladle binary; default build/ladle), WORK (scratch folder; default /var/tmp/ladle-merge-bench),
# DTYPE (F32 or BF16; default F32), SHARD (--out-shard-size; default 512M), THREADS (--threads; default 0 = all
# cores), REPEAT (runs per measurement, the median is reported; default 3), METHODS (default "linear ties"; also
# tsv_m, iso_c, iso_cts, consensus_ta, consensus_ties),
# WORKING_DTYPE (the configs' `dtype:`, e.g. bfloat16; default none: the math runs in float32), SIZE (extra
# make_checkpoints.py arguments for smaller inputs, e.g. "--hidden 512 --intermediate 1376 --layers 4 --vocab 8000";
# default none: the 1 GiB models).
# Runs REPEAT interleaved rounds (both yardsticks, then each method) and prints the medians: the I/O times with the
# 1-minute load average before-after all rounds, then per method the wall time, its ratios to the buffered and the
# direct I/O time, ladle's CPU time (user + system) and the peak RSS against the bound.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ladle=${LADLE:-$here/../../build/ladle}
work=${WORK:-/var/tmp/ladle-merge-bench}
dtype=${DTYPE:-F32}
shard=${SHARD:-512M}
threads=${THREADS:-0}
repeat=${REPEAT:-3}
methods=${METHODS:-linear ties}
working_dtype=${WORKING_DTYPE:-}
size=${SIZE:-}
models=$work/models-$dtype$(echo "$size" | tr -d ' -')

[[ -x $ladle ]] || { echo "no ladle binary at $ladle (set LADLE)" >&2; exit 1; }
mkdir -p "$work"
# shellcheck disable=SC2086  # SIZE is a list of arguments
/usr/bin/python3 "$here/make_checkpoints.py" "$models" --models 4 --dtype "$dtype" $size

cat > "$work/linear.yml" <<EOF
merge_method: linear
models:
  - {model: $models/m0, parameters: {weight: 0.4}}
  - {model: $models/m1, parameters: {weight: 0.3}}
  - {model: $models/m2, parameters: {weight: 0.2}}
  - {model: $models/m3, parameters: {weight: 0.1}}
EOF
[[ -z $working_dtype ]] || echo "dtype: $working_dtype" >> "$work/linear.yml"
cat > "$work/ties.yml" <<EOF
merge_method: ties
base_model: $models/m0
models:
  - {model: $models/m1, parameters: {weight: 1.0, density: 0.5}}
  - {model: $models/m2, parameters: {weight: 0.7, density: 0.5}}
  - {model: $models/m3, parameters: {weight: 0.5, density: 0.5}}
parameters: {normalize: true}
EOF
[[ -z $working_dtype ]] || echo "dtype: $working_dtype" >> "$work/ties.yml"
# The SVD methods (an SVD per task matrix and two per merged matrix) and consensus merging, each with its paper's
# defaults: the base and 3 task models.
for method in tsv_m iso_c iso_cts consensus_ta consensus_ties; do
  cat > "$work/$method.yml" <<EOF
merge_method: $method
base_model: $models/m0
models: [{model: $models/m1}, {model: $models/m2}, {model: $models/m3}]
EOF
  [[ -z $working_dtype ]] || echo "dtype: $working_dtype" >> "$work/$method.yml"
done

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# The machine may be shared: the 1-minute load average goes with the figures (before-after each method's runs).
load() { cut -d' ' -f1 /proc/loadavg; }

# Sizes: every input byte, one model's bytes (= the output of these merges), the largest tensor, the shard budget.
read -r input_bytes output_bytes largest_tensor shard_bytes < <(/usr/bin/python3 - "$models" "$shard" <<'EOF'
import glob, json, os, struct, sys
models, shard = sys.argv[1], sys.argv[2]
units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
shard_bytes = int(float(shard.rstrip("KMG")) * units[shard[-1] if shard[-1] in "KMG" else ""])
sizes, largest = {}, 0
for model in sorted(glob.glob(os.path.join(models, "m*"))):
    sizes[model] = 0
    for path in glob.glob(os.path.join(model, "*.safetensors")):
        sizes[model] += os.path.getsize(path)
        with open(path, "rb") as f:
            header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        for name, entry in header.items():
            if name != "__metadata__":
                largest = max(largest, entry["data_offsets"][1] - entry["data_offsets"][0])
print(sum(sizes.values()), sizes[os.path.join(models, "m0")], largest, shard_bytes)
EOF
)

cat "$models"/m*/*.safetensors > /dev/null  # warm the page cache

# The yardstick: read every input once, write one model's bytes once with fsync (extra dd flags: "$@").
io_once() {
  local start
  start=$(now)
  cat "$models"/m[123]/*.safetensors > /dev/null
  cat "$models"/m0/*.safetensors | dd of="$work/io-copy" bs=16M iflag=fullblock conv=fsync status=none "$@"
  echo "$(now) - $start" | bc -l
  rm -f "$work/io-copy"
}
# Interleaved rounds (yardsticks, then each method), so that a shared machine's changing load hits all alike.
declare -A walls peaks cpus
io_times=()
io_direct_times=()
load_before=$(load)
for _ in $(seq "$repeat"); do
  io_times+=("$(io_once)")
  io_direct_times+=("$(io_once oflag=direct)")
  for method in $methods; do
    out="$work/out-$method"
    rm -rf "$out"
    cat "$models"/m*/*.safetensors > /dev/null
    start=$(now)
    /usr/bin/time -v -o "$work/time-$method.txt" "$ladle" --quiet merge "$work/$method.yml" "$out" \
      --out-shard-size "$shard" --threads "$threads" > /dev/null  # its one-line summary
    walls[$method]+="$(echo "$(now) - $start" | bc -l) "
    peaks[$method]+="$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); printf "%.0f", $2 * 1024}' \
      "$work/time-$method.txt") "
    cpus[$method]+="$(awk -F: '/(User|System) time/ {total += $2} END {print total}' "$work/time-$method.txt") "
    rm -rf "$out"
  done
done
load_after=$(load)
io_time=$(printf '%s\n' "${io_times[@]}" | median)
io_direct_time=$(printf '%s\n' "${io_direct_times[@]}" | median)

gib() { echo "scale=2; $1 / 1073741824" | bc -l; }
echo "inputs: 4 x $(gib $((input_bytes / 4))) GiB ($dtype), largest tensor $(gib "$largest_tensor") GiB," \
  "output $(gib "$output_bytes") GiB, working dtype ${working_dtype:-float32}, --out-shard-size $shard, --threads $threads"
echo "I/O time (read inputs once + write output once, fsync): ${io_time} s buffered, ${io_direct_time} s direct" \
  "(medians of $repeat); load $load_before-$load_after"
bound=$((4 * largest_tensor + shard_bytes))
printf '%-8s %9s %11s %14s %8s %15s %12s %12s\n' method "wall (s)" "wall / I/O" "wall / I/O dir" "CPU (s)" \
  "peak RSS (GiB)" "bound (GiB)" "RSS / bound"
for method in $methods; do
  wall=$(printf '%s\n' ${walls[$method]} | median)
  peak=$(printf '%s\n' ${peaks[$method]} | median)
  cpu=$(printf '%s\n' ${cpus[$method]} | median)
  printf '%-8s %9.2f %11.2f %14.2f %8.2f %15.2f %12.2f %12.2f\n' "$method" "$wall" \
    "$(echo "$wall / $io_time" | bc -l)" "$(echo "$wall / $io_direct_time" | bc -l)" "$cpu" "$(gib "$peak")" \
    "$(gib "$bound")" "$(echo "$peak / $bound" | bc -l)"
done
