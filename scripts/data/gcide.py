"""Reader for GCIDE in dictd format (/usr/share/dictd/gcide.dict.dz and gcide.index), markup stripped.

gcide.index: one line per headword, `word<TAB>offset<TAB>length` with offset and length in dictd's base64
(A-Z a-z 0-9 + /, most significant digit first) into the uncompressed .dict file; .dict.dz is dictzip, which is
gzip-compatible. Entries use the GCIDE/webfilter ASCII markup:
  Headword \Pro*nun"ci*a`tion\ (pr[=o]n), pos. [etymology, may span lines]   -- headword line
  [1913 Webster], [WordNet 1.5], [PJC], ...                                  -- source tags, on their own line
  {Cross reference}, [=a] [a^] ['e] [ae] ...                                 -- links, accented letters
The text kept for the corpus is the headword (from its syllabified form, so "Caf['e]" becomes "Café"), the part of
speech and the senses; pronunciations, etymologies and source tags are removed.
"""

import gzip
import re
import unicodedata

from common import normalize_space

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(_B64)}

_SOURCE_TAG = re.compile(
    r"\[[^\[\]\n]*(?:Webster|WordNet|PJC|Century Dict|Chambers|\+ ?AS|RP)[^\[\]\n]*\][^\n]*")
_HEADWORD = re.compile(r"^[^\\\n]*\\([^\\\n]+)\\(?:\s*\([^()\n]*\))?")
_SYLLABIFIED = re.compile(r"\\[^\\\n]*\\(?:\s*\([^()\n]*\))?")
# Accent codes: an optional mark before or after 1-3 letters, e.g. [=a] [a^] ['e] [ae] [eth]. Usage labels such as
# [R.] or [Obs.] end in a full stop and do not match.
_ACCENT_CODE = re.compile(r"\[([=^~'`\".,*-]?)([A-Za-z]{1,3})(\^?)\]")
_LONG_BRACKET = re.compile(r"\[[^\[\]]{13,}\]")
_LINK = re.compile(r"\{([^{}]*)\}")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,;:.])")

_MARKS = {"=": "\u0304", "^": "\u0302", "~": "\u0303", "'": "\u0301", "`": "\u0300", '"': "\u0308",
          ".": "\u0323", ",": "\u0327"}
_LIGATURES = {"ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "eth": "ð", "deg": "°"}
# Named symbols written as a lower-case word in brackets (webfilter's entity names).
_NAMED = {"imac": "ī", "root": "√", "thorn": "þ", "sect": "§", "yogh": "ȝ", "pounds": "£", "flat": "♭",
          "sharp": "♯", "times": "×", "middot": "·", "para": "¶", "nbsp": " ", "dagger": "†", "rarr": "→",
          "divby": "÷", "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "theta": "θ",
          "iota": "ι", "kappa": "κ", "sigma": "σ", "upsilon": "υ", "omicron": "ο"}
_NAMED_CODE = re.compile(r"\[(" + "|".join(_NAMED) + r")\]")


def b64_number(text):
    """Value of a dictd base64 number ("BNy" -> 4914)."""
    value = 0
    for c in text:
        value = value * 64 + _B64_VALUE[c]
    return value


def _accent(match):
    before, letters, after = match.group(1), match.group(2), match.group(3)
    if letters in _LIGATURES and not before and not after:
        return _LIGATURES[letters]
    if after == "^" and not before:
        return unicodedata.normalize("NFC", letters + "\u0306")  # breve
    if before in _MARKS and len(letters) == 1:
        return unicodedata.normalize("NFC", letters + _MARKS[before])
    return letters


def _clean_headword(syllabified):
    return _ACCENT_CODE.sub(_accent, syllabified).replace("*", "").replace('"', "").replace("`", "")


def entry_text(raw):
    """One GCIDE entry as a single line of plain text ("" when nothing is left)."""
    text = _SOURCE_TAG.sub("", raw)
    head = _HEADWORD.match(text)
    if head:
        text = _clean_headword(head.group(1)) + text[head.end():]
    text = _SYLLABIFIED.sub("", text)
    text = _ACCENT_CODE.sub(_accent, _NAMED_CODE.sub(lambda m: _NAMED[m.group(1)], text))
    previous = None
    while previous != text:  # etymologies may hold short brackets that only disappear in a second pass
        previous = text
        text = _LONG_BRACKET.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", normalize_space(text))
    return text.lstrip(",; ")


def read_index(path, skips):
    """Sorted, de-duplicated (offset, length) spans of the entries named in a dictd index."""
    spans = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                skips.add("gcide", "malformed index line")
                continue
            if fields[0].startswith("00-"):
                continue  # database metadata, not dictionary entries
            try:
                spans.add((b64_number(fields[1]), b64_number(fields[2])))
            except KeyError:
                skips.add("gcide", "malformed index line")
    return sorted(spans)


def read_entries(dict_path, index_path, skips):
    """Plain-text entries in file order. Entries that are not valid UTF-8 are decoded as Windows-1252."""
    with gzip.open(dict_path) as f:
        data = f.read()
    entries = []
    for offset, length in read_index(index_path, skips):
        raw = data[offset : offset + length]
        if len(raw) != length:
            skips.add("gcide", "entry past end of file")
            continue
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("cp1252", errors="replace")
            skips.add("gcide", "entry decoded as cp1252 (kept)")
        text = entry_text(decoded)
        if text:
            entries.append(text)
        else:
            skips.add("gcide", "empty after markup removal")
    return entries
