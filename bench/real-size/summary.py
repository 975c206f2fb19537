#!/usr/bin/python3
"""The summary of bench/real-size/run.sh's results.jsonl: time and peak RSS of every command against the computed
bound, and per model the median steady-state tokens/s of ladle and of the Python loop and their ratio (goal:
ladle >= 1.15x).

The bound of a LoRA training run, in bytes (T = batch · seq tokens, V the vocabulary):
  weights      parameters · 4 (loaded as fp32) + the bf16 model.safetensors (mapped while it is read)
  LoRA state   adapter parameters · 4 · 4 (values, gradients, AdamW's two moments)
  activations  what autograd saves for one step's backward (the Python loop counts it on the same shapes,
               python_lora_loop.py's saved_activation_bytes: activations and autocast's bf16 weight copies)
               + 3 · T · V · 4 (fp32 logits, the loss's log-softmax and its gradient)
  runtime      1 GiB (libtorch, the tokenizer, the tokenized data)

Usage: summary.py RESULTS_JSONL WORK BATCH SEQ
"""
import json
import os
import statistics
import struct
import sys

GIB = 2**30


def parameters(folder):
    """Stored parameters of a model folder, from its safetensors header."""
    with open(os.path.join(folder, "model.safetensors"), "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    count = 0
    for name, entry in header.items():
        if name != "__metadata__":
            elements = 1
            for extent in entry["shape"]:
                elements *= extent
            count += elements
    return count


def bound(folder, python_row, tokens):
    config = json.load(open(os.path.join(folder, "config.json")))
    weights = parameters(folder) * 4 + os.path.getsize(os.path.join(folder, "model.safetensors"))
    lora = python_row["adapter_parameters"] * 16
    activations = python_row["saved_activation_bytes"] + 3 * tokens * config["vocab_size"] * 4
    parts = {"weights": weights, "lora_state": lora, "activations": activations, "runtime": GIB}
    return sum(parts.values()), parts


def main():
    path, work, batch, seq = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rows = [json.loads(line) for line in open(path)]
    models = sorted({row["model"] for row in rows if "side" in row})
    bounds = {}
    for model in models:
        python_rows = [row for row in rows if row.get("model") == model and row.get("side") == "python"]
        if python_rows:
            total, parts = bound(os.path.join(work, model), python_rows[-1], batch * seq)
            bounds[model] = total
            print(f"{model}: bound {total / GIB:.2f} GiB = " +
                  " + ".join(f"{name} {value / GIB:.2f}" for name, value in parts.items()))
    for row in rows:
        if "peak_rss_gib" in row:
            model = next((m for m in models if m in row["name"]), None)
            # Every training run is held to the bound; the blocks runs have exactly its shapes (T tokens a step).
            trains = model in bounds and ("train" in row["name"] or "blocks" in row["name"])
            against = ""
            if trains:
                within = "within" if row["peak_rss_gib"] * GIB <= bounds[model] else "OVER"
                against = f" ({within} the bound {bounds[model] / GIB:.2f} GiB)"
            print(f"{row['name']:32s} {row['seconds']:8.1f} s   peak RSS {row['peak_rss_gib']:6.2f} GiB{against}")
    for model in models:
        rate, step = {}, {}
        for side in ("ladle", "python"):
            side_rows = [row for row in rows if row.get("model") == model and row.get("side") == side]
            rate[side] = statistics.median(row["tokens_per_second"] for row in side_rows) if side_rows else float("nan")
            step[side] = statistics.median(row["seconds_per_step"] for row in side_rows) if side_rows else float("nan")
        print(f"{model}: LoRA step of {batch} x {seq} tokens: ladle {step['ladle']:.2f} s ({rate['ladle']:.1f} "
              f"tokens/s), python {step['python']:.2f} s ({rate['python']:.1f} tokens/s), "
              f"ratio {rate['ladle'] / rate['python']:.2f}")


if __name__ == "__main__":
    main()
