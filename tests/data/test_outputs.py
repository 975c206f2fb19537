"""Checks a built data folder (LADLE_DATA_DIR, default data/): skipped when none has been built.

Build one with `scripts/prepare-data.sh --tiny --out DIR` and run with LADLE_DATA_DIR=DIR.
"""

import json
import os
import re
import unittest

import builders_path  # noqa: F401
from common import SPLITS, file_digest

DATA_DIR = os.environ.get("LADLE_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "data"))
MANIFEST = os.path.join(DATA_DIR, "MANIFEST.json")
WORD_TASKS = ("definition", "synonym", "part_of_speech", "syllables", "pronunciation")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@unittest.skipUnless(os.path.exists(MANIFEST), "no built data folder at %s" % DATA_DIR)
class BuiltDataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(MANIFEST, encoding="utf-8") as f:
            cls.manifest = json.load(f)
        names = list(SPLITS) + ["shifted"]
        cls.alpaca = {s: read_jsonl(os.path.join(DATA_DIR, "instructions", s + ".jsonl")) for s in names}
        cls.messages = {s: read_jsonl(os.path.join(DATA_DIR, "instructions", "messages", s + ".jsonl"))
                        for s in names}

    def test_outputs_match_the_manifest(self):
        for relpath, recorded in self.manifest["outputs"].items():
            self.assertEqual(file_digest(os.path.join(DATA_DIR, relpath)), recorded, relpath)

    def test_alpaca_records_have_the_trainer_fields(self):
        for split, records in self.alpaca.items():
            for record in records:
                self.assertTrue({"instruction", "input", "output", "task"} <= set(record), record)
                self.assertTrue(all(isinstance(record[k], str) for k in ("instruction", "input", "output", "task")))
                self.assertTrue(record["instruction"] and record["output"], record)

    def test_both_formats_agree_line_by_line(self):
        for split in self.alpaca:
            self.assertEqual(len(self.alpaca[split]), len(self.messages[split]))
            for a, m in zip(self.alpaca[split], self.messages[split]):
                user = a["instruction"] + ("\n\n" + a["input"] if a["input"] else "")
                self.assertEqual([turn["role"] for turn in m["messages"]], ["user", "assistant"])
                self.assertEqual((m["messages"][0]["content"], m["messages"][1]["content"], m["task"]),
                                 (user, a["output"], a["task"]))

    def test_counts_match_the_manifest(self):
        for task, info in self.manifest["tasks"].items():
            for split in SPLITS:
                n = sum(1 for r in self.alpaca[split] if r["task"] == task)
                self.assertEqual(n, info["splits"][split]["records"], (task, split))
        shifted = {}
        for record in self.alpaca["shifted"]:
            key = "%s/%s" % (record["shift"], record["task"])
            shifted[key] = shifted.get(key, 0) + 1
        self.assertEqual(shifted, self.manifest["shifted"])

    def test_held_out_tasks_are_only_in_the_shifted_set(self):
        held_out = set(self.manifest["held_out_tasks"])
        for split in SPLITS:
            self.assertFalse(held_out & {r["task"] for r in self.alpaca[split]})
        self.assertEqual(held_out, {r["task"] for r in self.alpaca["shifted"] if r["shift"] == "task"})

    def test_words_and_texts_do_not_cross_splits(self):
        owner = {}
        for split in SPLITS:
            for record in self.alpaca[split]:
                if record["task"] in WORD_TASKS:
                    key = re.search(r'"([a-z]+)"', record["instruction"]).group(1)
                elif record["input"]:
                    key = record["input"]
                else:
                    continue
                self.assertEqual(owner.setdefault((record["task"], key), split), split, (record, key))


if __name__ == "__main__":
    unittest.main()
