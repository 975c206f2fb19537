import os
import tempfile
import unittest

import builders_path  # noqa: F401
from cmudict import read_cmudict, syllable_count
from common import SkipCounter


class CmudictTest(unittest.TestCase):
    def test_syllables_are_stressed_vowels(self):
        self.assertEqual(syllable_count("AE1 B AH0 K AH0 S"), 3)  # abacus
        self.assertEqual(syllable_count("S T R EH1 NG K TH S"), 1)  # strengths

    def test_variants_are_grouped_primary_first(self):
        text = ";;; comment\nTOMATO(1)  T AH0 M AA1 T OW2\nTOMATO  T AH0 M EY1 T OW2\nA  AH0\nbad line without phones\n"
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "dict.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            skips = SkipCounter()
            entries = read_cmudict(path, skips)
        self.assertEqual(entries["tomato"], ["T AH0 M EY1 T OW2", "T AH0 M AA1 T OW2"])
        self.assertEqual(entries["a"], ["AH0"])
        self.assertEqual(skips.as_dict(), {"cmudict": {"malformed line": 1}})


if __name__ == "__main__":
    unittest.main()
