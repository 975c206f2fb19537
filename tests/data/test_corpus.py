import os
import tempfile
import unittest

import builders_path  # noqa: F401
from books import Document, read_kjv
from common import SkipCounter, normalize_space, split_of
from corpus import corpus_split, document_bytes, tiny_subset, write_corpus
from sotu import passages


class CorpusSplitTest(unittest.TestCase):
    def test_speeches_asked_about_in_valid_or_test_are_not_training_text(self):
        for i in range(200):
            stem = "%d_someone_x" % (1800 + i)
            expected = "train" if split_of("speech:" + stem) == "train" else "valid"
            self.assertEqual(corpus_split("sotu:" + stem), expected)

    def test_file_format_and_counts(self):
        documents = {"a": [Document("a:%d" % i, ["first paragraph %d" % i, "second"]) for i in range(40)]}
        with tempfile.TemporaryDirectory() as folder:
            paths = {s: os.path.join(folder, s + ".txt") for s in ("train", "valid")}
            stats = write_corpus(paths, documents, "seed")
            texts = {}
            for split, path in paths.items():
                with open(path, encoding="utf-8") as f:
                    texts[split] = f.read()
        for split in paths:
            self.assertEqual(len(texts[split].encode()), stats["a"][split]["bytes"])
            self.assertEqual(texts[split].count("\n\n"), stats["a"][split]["documents"])
        self.assertEqual(stats["a"]["train"]["documents"] + stats["a"]["valid"]["documents"], 40)
        self.assertIn("first paragraph 0\nsecond\n\n", texts["train"] + texts["valid"])

    def test_tiny_subset_respects_the_budget(self):
        documents = {s: [Document("%s:%d" % (s, i), ["x" * 99] * 20) for i in range(200)] for s in ("a", "b")}
        chosen = tiny_subset(documents, 40_000)
        for source in chosen:
            self.assertLessEqual(sum(document_bytes(d) for d in chosen[source]), 20_000)
            self.assertTrue(chosen[source])


class TextTest(unittest.TestCase):
    def test_normalize_space_keeps_case_and_punctuation(self):
        self.assertEqual(normalize_space("  Call me\tIshmael.\n\nSome  years ago—never mind "), "Call me Ishmael. "
                         "Some years ago—never mind")

    def test_passages_are_whole_sentences_within_bounds(self):
        text = " ".join("Sentence number %d is here." % i for i in range(100))
        chunks = passages(text, min_chars=100, max_chars=200)
        self.assertTrue(chunks)
        for chunk in chunks:
            self.assertTrue(100 <= len(chunk) <= 200 and chunk.startswith("Sentence") and chunk.endswith("."))

    def test_kjv_verses_are_grouped_by_book(self):
        output = "Ge1:1 In the beginning God created the heaven and the earth.\nGe1:2 And the earth.\n" \
                 "1Sm1:1 Now there was a certain man.\nnot a verse\n"
        skips = SkipCounter()
        documents = read_kjv(output, skips)
        self.assertEqual([d.key for d in documents], ["kjv:Ge", "kjv:1Sm"])
        self.assertEqual(documents[0].paragraphs[1], "And the earth.")
        self.assertEqual(skips.as_dict(), {"kjv": {"unparsed line": 1}})


if __name__ == "__main__":
    unittest.main()
