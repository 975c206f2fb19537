#!/usr/bin/env bash
# Merge benchmark: `ladle merge` of 4 synthetic Llama-shaped inputs of about 1 GiB each (page cache warm), with
# linear and ties, against two yardsticks measured in the same run on the same file system:
#   wall / I/O time: I/O time = reading every input once (cat > /dev/null) + writing the output's bytes once
#                    (cat | dd conv=fsync, since ladle's writer fsyncs its shards). Target <= 1.3.
#   peak RSS / bound: bound = 4 x the largest tensor + the output shard size (/usr/bin/time -v). Target <= 1.5.
# Usage: bench/merge/run_benchmark.sh
# Environment: LADLE (the ladle binary; default build/ladle), WORK (scratch folder; default /var/tmp/ladle-merge-bench),
# DTYPE (F32 or BF16; default F32), SHARD (--out-shard-size; default 512M), THREADS (--threads; default 0 = all
# cores), REPEAT (runs per measurement, the median is reported; default 3), METHODS (default "linear ties"),
# WORKING_DTYPE (the configs' `dtype:`, e.g. bfloat16; default none: the math runs in float32).
# Prints the I/O time, then per method the medians, the ratios and the 1-minute load average before-after its runs.
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
models=$work/models-$dtype

[[ -x $ladle ]] || { echo "no ladle binary at $ladle (set LADLE)" >&2; exit 1; }
mkdir -p "$work"
/usr/bin/python3 "$here/make_checkpoints.py" "$models" --models 4 --dtype "$dtype"

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

io_times=()
for _ in $(seq "$repeat"); do
  start=$(now)
  cat "$models"/m[123]/*.safetensors > /dev/null
  cat "$models"/m0/*.safetensors | dd of="$work/io-copy" bs=16M iflag=fullblock conv=fsync status=none
  io_times+=("$(echo "$(now) - $start" | bc -l)")
  rm -f "$work/io-copy"
done
io_time=$(printf '%s\n' "${io_times[@]}" | median)

gib() { echo "scale=2; $1 / 1073741824" | bc -l; }
echo "inputs: 4 x $(gib $((input_bytes / 4))) GiB ($dtype), largest tensor $(gib "$largest_tensor") GiB," \
  "output $(gib "$output_bytes") GiB, working dtype ${working_dtype:-float32}, --out-shard-size $shard, --threads $threads"
echo "I/O time (read inputs once + write output once, fsync): ${io_time} s (median of $repeat), load $(load)"
bound=$((4 * largest_tensor + shard_bytes))
printf '%-8s %10s %12s %14s %14s %12s %12s\n' method "wall (s)" "wall / I/O" "peak RSS (GiB)" "bound (GiB)" \
  "RSS / bound" "load"
for method in $methods; do
  load_before=$(load)
  walls=()
  peaks=()
  for _ in $(seq "$repeat"); do
    out="$work/out-$method"
    rm -rf "$out"
    cat "$models"/m*/*.safetensors > /dev/null
    start=$(now)
    /usr/bin/time -v -o "$work/time-$method.txt" "$ladle" --quiet merge "$work/$method.yml" "$out" \
      --out-shard-size "$shard" --threads "$threads" > /dev/null  # its one-line summary
    walls+=("$(echo "$(now) - $start" | bc -l)")
    peaks+=("$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); printf "%.0f\n", $2 * 1024}' "$work/time-$method.txt")")
  done
  wall=$(printf '%s\n' "${walls[@]}" | median)
  peak=$(printf '%s\n' "${peaks[@]}" | median)
  printf '%-8s %10.2f %12.2f %14.2f %14.2f %12.2f %12s\n' "$method" "$wall" "$(echo "$wall / $io_time" | bc -l)" \
    "$(gib "$peak")" "$(gib "$bound")" "$(echo "$peak / $bound" | bc -l)" "$load_before-$(load)"
  rm -rf "$out"
done
