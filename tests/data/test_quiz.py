import os
import tempfile
import unittest

import builders_path  # noqa: F401
from common import SkipCounter
from quiz import canonical, logical_lines, read_quiz, split_categories


class CanonicalTest(unittest.TestCase):
    def test_optional_parts_are_included(self):
        self.assertEqual(canonical("{G{eorge} }Washington"), "George Washington")

    def test_first_alternative_is_the_answer(self):
        self.assertEqual(canonical("Vienna|Wien"), "Vienna")

    def test_longest_alternative_names_the_question(self):
        self.assertEqual(canonical("SGSSI|South Georgia and the South Sandwich Islands", prefer="longest"),
                         "South Georgia and the South Sandwich Islands")

    def test_bracket_group_takes_its_first_alternative(self):
        self.assertEqual(canonical("Andorra la V[ell|iej]a"), "Andorra la Vella")

    def test_overstruck_accent_becomes_accented_letter(self):
        self.assertEqual(canonical("Yaound['\be|e\b'|e]"), "Yaoundé")
        self.assertEqual(canonical("C[^\bo|o\b^|o]te d'Ivoire"), "Côte d'Ivoire")
        self.assertEqual(canonical("K[o\b/|/\bo]benhavn"), "København")

    def test_backslash_quotes_a_colon(self):
        self.assertEqual(canonical("To be{,} or not to be{\\:}"), "To be, or not to be:")


class DataFileTest(unittest.TestCase):
    def test_continuation_lines_are_joined(self):
        self.assertEqual(logical_lines("a:b\\\nc\nd:e\n"), ["a:bc", "d:e"])

    def test_colons_inside_brackets_do_not_split(self):
        self.assertEqual(split_categories("x{a:b}:y"), ["x{a:b}", "y"])

    def test_bad_lines_are_counted_not_fatal(self):
        text = "Alabama|AL:Montgomery\nonly-one-category\nTexas:Austin\n[a}:x\nEmpty:\n"
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "states")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            skips = SkipCounter()
            rows = read_quiz(path, 2, skips, "states", prefer=("longest", "first"))
        self.assertEqual(rows, [["Alabama", "Montgomery"], ["Texas", "Austin"]])
        self.assertEqual(skips.as_dict(), {"states": {"bad pattern": 1, "empty category": 1,
                                                      "wrong number of categories": 1}})


if __name__ == "__main__":
    unittest.main()
