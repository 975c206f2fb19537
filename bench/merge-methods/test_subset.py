#!/usr/bin/python3
"""The experiment's fixed test subset: the first N records of each task of an instruction JSONL, in file order
(data/instructions/test.jsonl is in a hash order of its items, so these are an arbitrary but fixed choice).

  test_subset.py TEST.jsonl N OUT.jsonl
"""

import json
import os
import sys
from collections import Counter


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    source, per_task, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    kept = Counter()
    lines = []
    with open(source) as f:
        for line in f:
            task = json.loads(line)["task"]
            if kept[task] < per_task:
                kept[task] += 1
                lines.append(line)
    with open(target + ".partial", "w") as f:
        f.writelines(lines)
    os.replace(target + ".partial", target)
    print(f"{target}: " + ", ".join(f"{task} {count}" for task, count in sorted(kept.items())))


if __name__ == "__main__":
    main()
