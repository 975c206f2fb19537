"""Reader for the bsdgames `quiz` data files (/usr/share/games/bsdgames/quiz/*).

Format (quiz(6), "Index and Data File Syntax"): one question/answer set per line, categories separated by ':';
a trailing backslash continues the line; each category is a pattern where `a|b` are alternatives, `{p}` is
optional, `[p]` delimits a group, and a backslash quotes the next character. Accented letters are groups of
overstrike spellings such as `['<BS>e|e<BS>'|e]` (e-acute typed three ways; <BS> is a backspace byte).

A pattern is turned into its canonical answer by including every optional part, taking the first alternative,
and writing overstruck accents (letter, backspace, mark) as the accented letter: `{G{eorge} }Washington` ->
"George Washington", `Yaound['<BS>e|e<BS>'|e]` -> "Yaoundé".
"""

import re
import unicodedata

# Accents are typed as overstrikes, a letter and a mark joined by a backspace ("e<BS>'" or "'<BS>e"). Each mark and
# the Unicode combining character it stands for; "o" overstruck with "/" is the letter ø, which has no decomposition.
_COMBINING = {"'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", ",": "\u0327", '"': "\u0308",
              "\u00b0": "\u030a"}
_OVERSTRIKE = re.compile("(.)\x08(.)")


class QuizSyntaxError(ValueError):
    pass


class _Alt:
    """Alternatives: a list of sequences, each a list of str and _Opt/_Alt nodes."""

    def __init__(self, options):
        self.options = options


class _Opt:
    """An optional group `{...}` holding an _Alt."""

    def __init__(self, alt):
        self.alt = alt


def parse_pattern(text):
    """Parses one category pattern into an _Alt tree; raises QuizSyntaxError on unbalanced brackets."""
    alt, i = _parse_alt(text, 0, None)
    if i != len(text):
        raise QuizSyntaxError("unexpected %r at column %d in %r" % (text[i], i, text))
    return alt


def _parse_alt(text, i, closer):
    options = [[]]
    while i < len(text):
        c = text[i]
        if c == closer:
            return _Alt(options), i
        if c in "}]":
            raise QuizSyntaxError("unbalanced %r in %r" % (c, text))
        if c == "|":
            options.append([])
            i += 1
        elif c == "\\":
            if i + 1 < len(text):
                options[-1].append(text[i + 1])
            i += 2
        elif c == "{":
            inner, i = _parse_alt(text, i + 1, "}")
            options[-1].append(_Opt(inner))
            i += 1
        elif c == "[":
            inner, i = _parse_alt(text, i + 1, "]")
            options[-1].append(inner)
            i += 1
        else:
            options[-1].append(c)
            i += 1
    if closer is not None:
        raise QuizSyntaxError("missing %r in %r" % (closer, text))
    return _Alt(options), i


def _canonical_alt(alt):
    return _canonical_seq(alt.options[0])


def _canonical_seq(seq):
    out = []
    for part in seq:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, _Opt):
            out.append(_canonical_alt(part.alt))
        else:
            out.append(_canonical_alt(part))
    return "".join(out)


def _resolve_overstrike(match):
    a, b = match.group(1), match.group(2)
    letter, mark = (b, a) if a in _COMBINING or a == "/" else (a, b)
    if mark == "/" and letter in "oO":
        return "\u00f8" if letter == "o" else "\u00d8"
    if mark not in _COMBINING or not letter.isalpha():
        return letter
    return unicodedata.normalize("NFC", letter + _COMBINING[mark])


def canonical(pattern, prefer="first"):
    """The canonical text of a pattern string (see the module docstring).

    `prefer` picks among the top-level alternatives: "first" (how quiz files list the expected answer first) or
    "longest" (the most explicit name, used for the question side: "SGSSI|South Georgia and ..." -> the latter).
    """
    alt = parse_pattern(pattern)
    options = [_canonical_seq(option) for option in alt.options]
    text = max(options, key=len) if prefer == "longest" else options[0]
    return " ".join(_OVERSTRIKE.sub(_resolve_overstrike, text).split())


def split_categories(line):
    """Splits a data line at unescaped ':' that are outside brackets; escapes are kept for parse_pattern."""
    fields, current, depth, i = [], [], 0, 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            current.append(line[i : i + 2])
            i += 2
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        if c == ":" and depth == 0:
            fields.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    fields.append("".join(current))
    return fields


def logical_lines(text):
    """Data lines with backslash continuations joined."""
    lines, pending = [], ""
    for raw in text.split("\n"):
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1]
            continue
        line = pending + raw
        pending = ""
        if line.strip():
            lines.append(line)
    if pending.strip():
        lines.append(pending)
    return lines


def read_quiz(path, n_categories, skips, source, prefer=("first",)):
    """Rows of canonical texts from a quiz data file, one list of `n_categories` strings per line.

    `prefer[i]` is the `prefer` argument of canonical() for category i (the last entry repeats).

    Lines with the wrong number of categories, bad brackets or an empty category are counted in `skips` and left
    out (quiz itself skips questions whose question or answer is empty).
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    rows = []
    for line in logical_lines(text):
        fields = split_categories(line)
        if len(fields) != n_categories:
            skips.add(source, "wrong number of categories")
            continue
        try:
            row = [canonical(field, prefer[min(i, len(prefer) - 1)]) for i, field in enumerate(fields)]
        except QuizSyntaxError:
            skips.add(source, "bad pattern")
            continue
        if not all(row):
            skips.add(source, "empty category")
            continue
        rows.append(row)
    return rows
