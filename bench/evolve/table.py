"""The evolve experiment's table: held-out loss per task (rows) for each model (columns) from `ladle evaluate`'s JSON
lines. Usage: table.py TEST.jsonl BEST_HAND_SET_LABEL"""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
best = sys.argv[2]
order = ["base", "kmeans-0", "kmeans-1", "kmeans-2", "kmeans-3", best, "evolved-ta", "evolved-ties"]
by_label = {row["label"]: row for row in rows}
columns = [label for label in order if label in by_label]
tasks = sorted({task for row in rows for task in row["per_task"]})
print("| task (test loss) | " + " | ".join(c if c != best else f"hand-set: {best}" for c in columns) + " |")
print("|---" * (len(columns) + 1) + "|")
for task in tasks:
    values = [by_label[c]["per_task"].get(task) for c in columns]
    low = min(v for v in values if v is not None)
    cells = ["–" if v is None else (f"**{v:.3f}**" if v == low else f"{v:.3f}") for v in values]
    print(f"| {task} | " + " | ".join(cells) + " |")
means = [sum(by_label[c]["per_task"].values()) / len(by_label[c]["per_task"]) for c in columns]
print("| **mean over tasks** | " + " | ".join(f"**{m:.3f}**" if m == min(means) else f"{m:.3f}" for m in means) + " |")
print("| every token | " + " | ".join(f"{by_label[c]['loss']:.3f}" for c in columns) + " |")
