import gzip
import os
import tempfile
import unittest

import builders_path  # noqa: F401
from common import SkipCounter
from gcide import b64_number, entry_text, read_entries

BATHOS = ('Bathos \\Ba"thos\\ (b[=a]"th[o^]s), n. [Gr. ba`qos depth, fr.\n'
          "   baqy`s deep.] (Rhet.)\n"
          "   A ludicrous descent from the elevated to the low, in writing\n"
          "   or speech; anticlimax. See {Bathetic}.\n"
          "   [1913 Webster] bath towel\n")
CAFE = ("Caf'e \\Ca`f['e]\"\\ (k[a^]*f[=a]\"), n. [F. See\n   {Coffee}.]\n"
        "   A coffeehouse; a restaurant. [R.]\n   [1913 Webster + WordNet 1.5]\n")


class EntryTextTest(unittest.TestCase):
    def test_pronunciation_etymology_links_and_source_tags_are_removed(self):
        self.assertEqual(entry_text(BATHOS), "Bathos, n. (Rhet.) A ludicrous descent from the elevated to the low, "
                                             "in writing or speech; anticlimax. See Bathetic.")

    def test_headword_accents_come_from_the_syllabified_form(self):
        self.assertEqual(entry_text(CAFE), "Café, n. A coffeehouse; a restaurant. [R.]")


class DictdFilesTest(unittest.TestCase):
    def test_base64_numbers(self):
        self.assertEqual(b64_number("A"), 0)
        self.assertEqual(b64_number("/"), 63)
        self.assertEqual(b64_number("BA"), 64)
        self.assertEqual(b64_number("BNy"), 1 * 4096 + 13 * 64 + 50)

    def test_entries_are_read_through_the_index_once_each(self):
        data = ("header\n" + BATHOS + CAFE).encode("utf-8") + b"Caf\x92s \\Caf\x92s\\, n. pl. of caf\x92e.\n"
        b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

        def enc(n):
            return b64[n // 4096] + b64[(n // 64) % 64] + b64[n % 64]

        bathos_at, cafe_at = data.index(b"Bathos"), data.index(b"Caf'e")
        cafes_at = data.index(b"Caf\x92s")
        index = "\n".join([
            "00-database-info\t%s\t%s" % (enc(0), enc(7)),
            "bathos\t%s\t%s" % (enc(bathos_at), enc(cafe_at - bathos_at)),
            "Bathos\t%s\t%s" % (enc(bathos_at), enc(cafe_at - bathos_at)),
            "cafe\t%s\t%s" % (enc(cafe_at), enc(cafes_at - cafe_at)),
            "cafes\t%s\t%s" % (enc(cafes_at), enc(len(data) - cafes_at)),
            "broken",
        ]) + "\n"
        with tempfile.TemporaryDirectory() as folder:
            dict_path, index_path = os.path.join(folder, "t.dict.dz"), os.path.join(folder, "t.index")
            with gzip.open(dict_path, "wb") as f:
                f.write(data)
            with open(index_path, "w", encoding="utf-8") as f:
                f.write(index)
            skips = SkipCounter()
            entries = read_entries(dict_path, index_path, skips)
        self.assertEqual([e.split(",")[0] for e in entries], ["Bathos", "Café", "Caf\u2019s"])
        self.assertEqual(skips.as_dict(), {"gcide": {"entry decoded as cp1252 (kept)": 1,
                                                     "malformed index line": 1}})


if __name__ == "__main__":
    unittest.main()
