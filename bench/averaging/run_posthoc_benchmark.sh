#!/usr/bin/env bash
# Post-hoc EMA reconstruction benchmark: `ladle posthoc-ema` of one target width from 8 snapshots (the post-hoc pair,
# sigma_rel 0.05 and 0.10, at 4 steps) of a synthetic Llama-shaped model (bench/merge/make_checkpoints.py, about
# 300 MB of fp32 each), page cache warm, against the I/O yardstick of the merge benchmark (bench/merge): reading
# every snapshot once (cat > /dev/null) plus writing the output's bytes once with fsync (cat | dd conv=fsync), in
# the same run on the same file system, and ladle's start alone (`ladle version`). Target: reconstruction time
# <= 1.3 x the I/O time.
# Usage: bench/averaging/run_posthoc_benchmark.sh
# Environment: LADLE (the ladle binary; default build/ladle), WORK (scratch folder; default
# /var/tmp/ladle-posthoc-bench), REPEAT (interleaved rounds, the median is reported; default 3), THREADS (--threads;
# default 0 = all cores).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ladle=${LADLE:-$here/../../build/ladle}
work=${WORK:-/var/tmp/ladle-posthoc-bench}
repeat=${REPEAT:-3}
threads=${THREADS:-0}
models=$work/models
run=$work/run

[[ -x $ladle ]] || { echo "no ladle binary at $ladle (set LADLE)" >&2; exit 1; }
mkdir -p "$work"
/usr/bin/python3 "$here/../merge/make_checkpoints.py" "$models" --models 8 --hidden 768 --intermediate 2048 \
  --layers 4 --vocab 32000 > /dev/null

# The run's posthoc/ folder as averaging.posthoc writes it: snapshot folders (here links to the synthetic models)
# and their records, gamma from sigma_rel as EDM2's reference code computes it.
rm -rf "$run"
mkdir -p "$run/posthoc"
/usr/bin/python3 - "$models" "$run/posthoc" <<'PY'
import json, os, sys
import numpy as np
models, posthoc = sys.argv[1], sys.argv[2]
index = 0
for step in (250, 500, 750, 1000):
    for sigma_rel in (0.05, 0.1):
        t = sigma_rel ** -2
        gamma = float(np.roots([1, 7, 16 - t, 12 - t]).real.max())
        name = f"step-{step:08d}-sigma_rel-{sigma_rel:g}"
        os.symlink(os.path.join(models, f"m{index}"), os.path.join(posthoc, name))
        with open(os.path.join(posthoc, name + ".json"), "w") as f:
            json.dump({"step": step, "gamma": gamma, "sigma_rel": sigma_rel}, f)
        index += 1
PY

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
load() { cut -d' ' -f1 /proc/loadavg; }
snapshot_bytes=$(cat "$models"/m*/*.safetensors | wc -c)
output_bytes=$(cat "$models"/m0/*.safetensors | wc -c)
cat "$models"/m*/*.safetensors > /dev/null  # warm the page cache

# The yardstick: read every snapshot once, write one model's bytes once with fsync.
io_once() {
  local start
  start=$(now)
  cat "$models"/m[1-7]/*.safetensors > /dev/null
  cat "$models"/m0/*.safetensors | dd of="$work/io-copy" bs=16M iflag=fullblock conv=fsync status=none
  echo "$(now) - $start" | bc -l
  rm -f "$work/io-copy"
}
# ladle's start alone (loading libtorch and its ~290 libraries), which no command of a program linking it avoids.
start_once() {
  local start
  start=$(now)
  "$ladle" --quiet version > /dev/null
  echo "$(now) - $start" | bc -l
}
io_times=()
walls=()
starts=()
load_before=$(load)
for _ in $(seq "$repeat"); do
  io_times+=("$(io_once)")
  starts+=("$(start_once)")
  rm -rf "$work/out"
  cat "$models"/m*/*.safetensors > /dev/null
  start=$(now)
  "$ladle" --quiet --threads "$threads" posthoc-ema "$run" --sigma-rel 0.07 "$work/out" > /dev/null
  walls+=("$(echo "$(now) - $start" | bc -l)")
done
load_after=$(load)
io_time=$(printf '%s\n' "${io_times[@]}" | median)
wall=$(printf '%s\n' "${walls[@]}" | median)
start_time=$(printf '%s\n' "${starts[@]}" | median)
rm -rf "$work/out"
gib() { echo "scale=2; $1 / 1073741824" | bc -l; }
echo "snapshots: 8 x $(gib $((snapshot_bytes / 8))) GiB (fp32), output $(gib "$output_bytes") GiB, --threads $threads;" \
  "load $load_before-$load_after"
printf 'I/O time (read snapshots once + write output once, fsync): %.2f s; posthoc-ema: %.2f s; ratio %.2f (medians of %s)\n' \
  "$io_time" "$wall" "$(echo "$wall / $io_time" | bc -l)" "$repeat"
printf 'of which ladle starting (`ladle version`): %.2f s; posthoc-ema beyond the start: %.2f s, ratio %.2f\n' \
  "$start_time" "$(echo "$wall - $start_time" | bc -l)" "$(echo "($wall - $start_time) / $io_time" | bc -l)"
