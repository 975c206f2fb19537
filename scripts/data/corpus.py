"""The pretraining corpus: real English documents from five sources, split into train and valid by document.

File format (train.txt, valid.txt): UTF-8, one paragraph per line, documents separated by one empty line,
documents in a seeded shuffled order. Whitespace inside a paragraph is normalised to single spaces; case and
punctuation are kept.

Split: a State of the Union speech goes to valid when the instruction set puts that speech in valid or test
(so sotu_president test passages are never pretraining text); any other document goes to valid with probability
CORPUS_VALID_FRACTION, decided by a hash of its key.
"""

import random

from books import Document
from common import atomic_open, split_of, stable_unit
from sotu import paragraphs as speech_paragraphs

CORPUS_VALID_FRACTION = 0.05
GCIDE_ENTRIES_PER_DOCUMENT = 500
WORDNET_SYNSETS_PER_DOCUMENT = 1000


def sotu_documents(speeches):
    return [Document("sotu:" + s.key, speech_paragraphs(s.text)) for s in speeches]


def gcide_documents(entries):
    n = GCIDE_ENTRIES_PER_DOCUMENT
    return [Document("gcide:%05d" % (i // n), entries[i : i + n]) for i in range(0, len(entries), n)]


def wordnet_line(synset):
    return "%s (%s): %s" % (", ".join(synset.lemmas), {"n": "noun", "v": "verb", "a": "adjective",
                                                       "s": "adjective", "r": "adverb"}[synset.pos], synset.gloss)


def wordnet_documents(wn):
    """Glosses in data-file order (noun, verb, adj, adv), WORDNET_SYNSETS_PER_DOCUMENT per document."""
    documents = []
    for pos in ("n", "v", "a", "r"):
        synsets = [s for (key, _), s in sorted(wn.synsets.items()) if key == pos]
        n = WORDNET_SYNSETS_PER_DOCUMENT
        for i in range(0, len(synsets), n):
            lines = [wordnet_line(s) for s in synsets[i : i + n]]
            documents.append(Document("wordnet:%s:%04d" % (pos, i // n), lines))
    return documents


def corpus_split(key):
    """"train" or "valid" for a document key (see the module docstring)."""
    if key.startswith("sotu:"):
        return "train" if split_of("speech:" + key[len("sotu:"):]) == "train" else "valid"
    return "valid" if stable_unit("corpus:" + key) < CORPUS_VALID_FRACTION else "train"


def document_bytes(document):
    return sum(len(p.encode("utf-8")) + 1 for p in document.paragraphs) + 1


def _leading_paragraphs(document, max_bytes):
    """The document cut after the paragraph that reaches max_bytes."""
    kept, size = [], 0
    for paragraph in document.paragraphs:
        kept.append(paragraph)
        size += len(paragraph.encode("utf-8")) + 1
        if size >= max_bytes:
            break
    return Document(document.key, kept)


def tiny_subset(documents_by_source, total_bytes):
    """A small corpus: each source gets an equal byte budget, 90% for train and 10% for valid, filled with its
    documents in hash order, each cut to its leading paragraphs (about a tenth of a source's budget), so that
    every source has documents in both splits; documents that would overflow a split's budget are skipped."""
    budget = total_bytes / max(1, len(documents_by_source))
    chosen = {}
    for source, documents in documents_by_source.items():
        left = {"train": 0.9 * budget, "valid": 0.1 * budget}
        picked = []
        for document in sorted(documents, key=lambda d: stable_unit("tiny:" + d.key)):
            document = _leading_paragraphs(document, 0.09 * budget)
            split = corpus_split(document.key)
            size = document_bytes(document)
            if size <= left[split]:
                picked.append(document)
                left[split] -= size
        chosen[source] = picked
    return chosen


def write_corpus(paths, documents_by_source, seed):
    """Writes train and valid files atomically; returns {source: {split: {"documents": n, "bytes": n}}}."""
    by_split = {"train": [], "valid": []}
    stats = {}
    for source, documents in documents_by_source.items():
        stats[source] = {split: {"documents": 0, "bytes": 0} for split in by_split}
        for document in documents:
            split = corpus_split(document.key)
            by_split[split].append(document)
            stats[source][split]["documents"] += 1
            stats[source][split]["bytes"] += document_bytes(document)
    for split, documents in by_split.items():
        documents.sort(key=lambda d: d.key)
        random.Random("%s:corpus:%s" % (seed, split)).shuffle(documents)
        with atomic_open(paths[split]) as f:
            for document in documents:
                f.write("\n".join(document.paragraphs))
                f.write("\n\n")
    return stats
