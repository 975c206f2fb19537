"""Reader for the WordNet 3.0 database files (/usr/share/wordnet/data.* and index.*), per wndb(5WN).

data.POS line:  synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] [frames] | gloss
  w_cnt is two hex digits; lemmas use '_' for spaces and adjectives may carry a marker "(a)", "(p)" or "(ip)".
  A pointer is "symbol offset pos source/target"; "!" is an antonym.
index.POS line: lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset [synset_offset...]
  offsets are in sense order: the first is the most frequent sense (by SemCor tag counts).
License lines at the top of every file start with two spaces.
"""

import dataclasses
import os
import re

POS_FILES = ("noun", "verb", "adj", "adv")
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
_INDEX_POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")


@dataclasses.dataclass
class Synset:
    offset: str  # 8-digit byte offset, unique within its data file
    pos: str  # n, v, a, s (adjective satellite) or r
    lex_file: int  # lexicographer file number (lexnames(5WN)), e.g. 5 = noun.animal
    lemmas: list  # words in the synset, '_' replaced by ' ', markers stripped
    antonyms: list  # (offset, pos, source word number, target word number) of "!" pointers
    gloss: str  # full gloss: definition, then '; "example"' parts

    @property
    def definition(self):
        """The gloss without its quoted examples."""
        return definition_of(self.gloss)


@dataclasses.dataclass
class IndexEntry:
    lemma: str  # lower case, ' ' for '_'
    pos: str  # n, v, a or r
    offsets: list  # synset offsets, most frequent sense first
    tagsense_cnt: int  # senses tagged in SemCor; 0 for words never seen there


def definition_of(gloss):
    """Strips WordNet's example sentences ('; "..."') from a gloss."""
    quote = gloss.find('"')
    text = gloss if quote < 0 else gloss[:quote]
    return text.strip().rstrip(";").strip()


def _lemma_text(word):
    return _ADJ_MARKER.sub("", word).replace("_", " ")


def parse_data_line(line):
    """A Synset from one data-file line; raises ValueError on a malformed line."""
    head, sep, gloss = line.partition(" | ")
    if not sep:
        head, gloss = line.rstrip(), ""
    fields = head.split()
    offset, lex_file, ss_type = fields[0], int(fields[1]), fields[2]
    if ss_type not in POS_NAMES or len(offset) != 8:
        raise ValueError("bad synset header")
    w_cnt = int(fields[3], 16)
    words = [_lemma_text(fields[4 + 2 * i]) for i in range(w_cnt)]
    i = 4 + 2 * w_cnt
    p_cnt = int(fields[i])
    antonyms = []
    for k in range(p_cnt):
        symbol, target, target_pos, source_target = fields[i + 1 + 4 * k : i + 5 + 4 * k]
        if symbol == "!":
            antonyms.append((target, target_pos, int(source_target[:2], 16), int(source_target[2:], 16)))
    return Synset(offset, ss_type, lex_file, words, antonyms, gloss.strip())


def parse_index_line(line):
    """An IndexEntry from one index-file line; raises ValueError on a malformed line."""
    fields = line.split()
    lemma, pos = fields[0].replace("_", " "), fields[1]
    synset_cnt, p_cnt = int(fields[2]), int(fields[3])
    rest = fields[4 + p_cnt :]
    tagsense_cnt = int(rest[1])
    offsets = rest[2 : 2 + synset_cnt]
    if len(offsets) != synset_cnt:
        raise ValueError("synset count mismatch")
    return IndexEntry(lemma, pos, offsets, tagsense_cnt)


def _lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("  ") and line.strip():
                yield line


class WordNet:
    """All synsets and index entries of one WordNet database folder."""

    def __init__(self, folder, skips):
        self.synsets = {}  # (pos file key "n"/"v"/"a"/"r", offset) -> Synset
        self.index = {}  # lemma -> {pos letter: IndexEntry}
        for name in POS_FILES:
            key = _INDEX_POS[name]
            for line in _lines(os.path.join(folder, "data." + name)):
                try:
                    synset = parse_data_line(line)
                except (ValueError, IndexError):
                    skips.add("wordnet", "malformed data line")
                    continue
                self.synsets[(key, synset.offset)] = synset
            for line in _lines(os.path.join(folder, "index." + name)):
                try:
                    entry = parse_index_line(line)
                except (ValueError, IndexError):
                    skips.add("wordnet", "malformed index line")
                    continue
                self.index.setdefault(entry.lemma, {})[key] = entry

    def senses(self, lemma, pos):
        """Synsets of `lemma` as part of speech `pos` (n, v, a, r), most frequent first."""
        entry = self.index.get(lemma, {}).get(pos)
        if entry is None:
            return []
        return [self.synsets[(pos, off)] for off in entry.offsets if (pos, off) in self.synsets]

    def antonym_pairs(self):
        """(word, antonym) pairs from the "!" pointers of adjective synsets, in data-file order."""
        pairs = []
        for (key, _), synset in self.synsets.items():  # file order
            if key != "a":
                continue
            for target, target_pos, source_no, target_no in synset.antonyms:
                other = self.synsets.get(("a" if target_pos in "as" else target_pos, target))
                if other is None or source_no == 0 or target_no == 0:
                    continue
                if source_no <= len(synset.lemmas) and target_no <= len(other.lemmas):
                    pairs.append((synset.lemmas[source_no - 1], other.lemmas[target_no - 1]))
        return pairs
