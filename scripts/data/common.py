"""Shared helpers for the data builders: text clean-up, item splits, examples, atomic output.

Standard library only; every builder imports from here so that splitting and writing behave the same everywhere.
"""

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import re

SPLITS = ("train", "valid", "test")

# Fraction of items (words, countries, emails, speeches, ...) that go to valid and to test. The split is a function
# of the item's key alone (see split_of), so one key lands in the same split in every task that uses it.
VALID_FRACTION = 0.1
TEST_FRACTION = 0.1

_SPACE_RUN = re.compile(r"\s+")


def normalize_space(text):
    """Collapses every run of whitespace (newlines included) to one space and trims the ends."""
    return _SPACE_RUN.sub(" ", text).strip()


@functools.lru_cache(maxsize=None)
def stable_unit(key):
    """A number in [0, 1) that depends only on `key` (SHA-256, so it is the same on every machine and run)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@functools.lru_cache(maxsize=None)
def split_of(key, valid_fraction=VALID_FRACTION, test_fraction=TEST_FRACTION):
    """The split ("train", "valid" or "test") that the item named `key` belongs to."""
    u = stable_unit("split:" + key)
    if u < test_fraction:
        return "test"
    if u < test_fraction + valid_fraction:
        return "valid"
    return "train"


def truncate_words(text, limit):
    """`text` cut to at most `limit` characters at a word boundary, with "..." appended when it was cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    if not cut:
        cut = text[:limit]
    return cut.rstrip(" ,;:") + "..."


class SkipCounter:
    """Counts source records that a reader skipped, by source and reason, for the manifest."""

    def __init__(self):
        self._counts = {}

    def add(self, source, reason, n=1):
        per_source = self._counts.setdefault(source, {})
        per_source[reason] = per_source.get(reason, 0) + n

    def as_dict(self):
        return {source: dict(sorted(reasons.items())) for source, reasons in sorted(self._counts.items())}


@dataclasses.dataclass(frozen=True)
class Example:
    """One instruction-following record, independent of the file format it is written in."""

    task: str  # task label, e.g. "capital"
    instruction: str  # the question or command
    input: str  # extra context (an email, a passage); "" when the instruction says everything
    output: str  # the reference answer, compared by exact match
    shift: str = ""  # for the shifted set only: "template", "domain" or "task"

    def user_text(self):
        """The user turn of the messages format: the instruction, then the input after a blank line."""
        return self.instruction if not self.input else self.instruction + "\n\n" + self.input

    def to_alpaca(self):
        record = {"instruction": self.instruction, "input": self.input, "output": self.output, "task": self.task}
        if self.shift:
            record["shift"] = self.shift
        return record

    def to_messages(self):
        record = {
            "messages": [
                {"role": "user", "content": self.user_text()},
                {"role": "assistant", "content": self.output},
            ],
            "task": self.task,
        }
        if self.shift:
            record["shift"] = self.shift
        return record


def jsonl_line(record):
    """One JSON Lines line: compact, UTF-8 kept as is, keys in insertion order."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


@contextlib.contextmanager
def atomic_open(path, mode="w"):
    """Opens `path + ".partial"` for writing and renames it over `path` only when the block succeeds."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + ".partial"
    encoding = None if "b" in mode else "utf-8"
    try:
        with open(partial, mode, encoding=encoding, newline=None if "b" in mode else "\n") as f:
            yield f
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def write_jsonl(path, records):
    """Writes dicts as JSON Lines atomically; returns the number of lines."""
    n = 0
    with atomic_open(path) as f:
        for record in records:
            f.write(jsonl_line(record))
            n += 1
    return n


def write_json(path, value):
    with atomic_open(path) as f:
        json.dump(value, f, ensure_ascii=False, indent=2, sort_keys=False)
        f.write("\n")


def file_digest(path):
    """{"bytes": size, "sha256": hex digest} of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return {"bytes": size, "sha256": h.hexdigest()}
