import os
import tempfile
import unittest

import builders_path  # noqa: F401
from common import SkipCounter
from wordnet import WordNet, definition_of, parse_data_line

LICENSE = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
# Excerpts in the wndb(5WN) format; offsets are made up but consistent between data and index.
DATA = {
    "noun": LICENSE
    + "00000001 03 n 02 bathtub 0 tub 0 000 | a relatively large open container; \"a hot bathtub\"  \n",
    "verb": LICENSE,
    "adj": LICENSE
    + "00000010 00 a 01 able 0 001 ! 00000020 a 0101 | (usually followed by `to') having the means; "
    + "\"able to swim\"  \n"
    + "00000020 00 a 01 unable(p) 0 001 ! 00000010 a 0101 | not having the means  \n",
    "adv": LICENSE,
}
INDEX = {
    "noun": LICENSE + "bathtub n 1 0 1 1 00000001  \ntub n 1 0 1 0 00000001  \n",
    "verb": LICENSE,
    "adj": LICENSE + "able a 1 1 ! 1 1 00000010  \nunable a 1 1 ! 1 0 00000020  \n",
    "adv": LICENSE + "broken line\n",
}


class WordNetTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        for pos in DATA:
            with open(os.path.join(self.folder.name, "data." + pos), "w", encoding="utf-8") as f:
                f.write(DATA[pos])
            with open(os.path.join(self.folder.name, "index." + pos), "w", encoding="utf-8") as f:
                f.write(INDEX[pos])
        self.skips = SkipCounter()
        self.wn = WordNet(self.folder.name, self.skips)

    def tearDown(self):
        self.folder.cleanup()

    def test_license_lines_are_ignored_and_bad_lines_counted(self):
        self.assertEqual(len(self.wn.synsets), 3)
        self.assertEqual(self.skips.as_dict(), {"wordnet": {"malformed index line": 1}})

    def test_senses_follow_the_index_order(self):
        (synset,) = self.wn.senses("tub", "n")
        self.assertEqual(synset.lemmas, ["bathtub", "tub"])
        self.assertEqual(synset.definition, "a relatively large open container")

    def test_adjective_markers_are_stripped(self):
        self.assertEqual(self.wn.senses("unable", "a")[0].lemmas, ["unable"])

    def test_antonym_pointers_name_both_words(self):
        self.assertEqual(self.wn.antonym_pairs(), [("able", "unable"), ("unable", "able")])

    def test_tag_counts_are_read(self):
        self.assertEqual(self.wn.index["able"]["a"].tagsense_cnt, 1)
        self.assertEqual(self.wn.index["unable"]["a"].tagsense_cnt, 0)


class GlossTest(unittest.TestCase):
    def test_definition_drops_examples(self):
        self.assertEqual(definition_of('a barrier that serves to enclose an area; "the fence was painted"'),
                         "a barrier that serves to enclose an area")

    def test_word_count_is_hexadecimal(self):
        words = " ".join("w%d 0" % i for i in range(16))
        synset = parse_data_line("00000001 03 n 10 %s 000 | sixteen words" % words)
        self.assertEqual(len(synset.lemmas), 16)


if __name__ == "__main__":
    unittest.main()
