#!/usr/bin/python3
"""Steady-state throughput of a `ladle train` run on plain-text blocks, from its metrics.jsonl.

Every step trains batch × seq tokens (blocks of block_size = seq tokens), and each train line's
train/tokens_per_second is the run's cumulative input tokens over its cumulative step time, so the time at step k is
k · batch · seq / rate_k. The rate over steps warmup+1 .. last leaves out the first steps' allocations, as the
Python loop leaves out its warm-up steps.

Usage: throughput.py ladle METRICS_JSONL WARMUP BATCH SEQ MODEL   (prints one JSON line)
"""
import json
import sys


def main():
    side, path, warmup, batch, seq, model = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6]), sys.argv[6]
    lines = [json.loads(line) for line in open(path)]
    train = sorted((line for line in lines if line.get("kind") == "train"), key=lambda line: line["step"])
    tokens_per_step = batch * seq
    elapsed = {line["step"]: line["step"] * tokens_per_step / line["train/tokens_per_second"] for line in train}
    last = train[-1]["step"]
    seconds = elapsed[last] - elapsed[warmup]
    steps = last - warmup
    print(json.dumps({"side": side, "model": model, "tokens_per_second": steps * tokens_per_step / seconds,
                      "seconds_per_step": seconds / steps, "final_loss": train[-1]["train/loss"]}))


if __name__ == "__main__":
    main()
