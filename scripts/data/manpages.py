"""One-line command summaries (what `whatis` prints) from the NAME sections of installed manual pages.

Only pages owned by the Debian packages in SUMMARY_PACKAGES are read, so the set does not depend on whatever else
happens to be installed on a machine; a listed package that is not installed is skipped and reported. The owner of
a file comes from dpkg's file lists (/var/lib/dpkg/info/<package>[:arch].list).

NAME sections come in the two macro packages man(7) (`.SH NAME` then `name \\- summary`) and mdoc(7)
(`.Sh NAME`, `.Nm name`, `.Nd summary`); troff escapes are removed (groff_char(7), groff(7) "Escape sequences").
"""

import dataclasses
import glob
import gzip
import os
import re

# Packages that every Debian 12 system has (priority required or important, or standard and installed by default),
# the ones ladle's scripts/setup.sh installs, and the ones prepare-data.sh installs.
SUMMARY_PACKAGES = (
    "apt", "bash", "binutils-common", "bsdextrautils", "bsdgames", "bsdutils", "bzip2", "ccache", "coreutils",
    "dash", "debconf", "debianutils", "dict", "dictd", "diffutils", "dpkg", "dpkg-dev", "e2fsprogs", "file",
    "findutils", "gettext", "gettext-base", "git-man", "gnupg-utils", "gpg", "grep", "groff-base", "gzip",
    "hostname", "iproute2", "less", "libc-bin", "login", "make", "man-db", "mount", "ncurses-bin", "ninja-build",
    "openssh-client", "passwd", "patch", "perl", "procps", "sed", "sensible-utils", "systemd", "tar",
    "util-linux", "xz-utils",
)
_PAGE = re.compile(r"^/usr/share/man/man([168])/([^/]+)\.([168][a-z]*)\.gz$")
_NAME_HEADER = re.compile(r'^\.S[Hh]\s+"?NAME"?\s*$', re.IGNORECASE)
_SECTION_HEADER = re.compile(r"^\.(?:SH|Sh|SS|Ss)\b")
_FONT = re.compile(r"\\f(?:\(..|\[[^\]]*\]|.)")
_SIZE = re.compile(r"\\s[-+]?\d+")
_STRING = re.compile(r"\\\*(?:\((..)|\[([^\]]*)\]|.)")
_NAMED_CHAR = re.compile(r"\\(?:\((..)|\[([^\]]*)\])")
_CHARS = {"em": "—", "en": "–", "aq": "'", "cq": "'", "oq": "'", "dq": '"', "lq": '"', "rq": '"', "bu": "•",
          "hy": "-", "mi": "-", "co": "©", "rg": "®", "tm": "™"}
# Escapes that print one character or nothing: hyphen, apostrophe, backslash, spaces, zero-width marks.
_SIMPLE_ESCAPES = (("\\-", "-"), ("\\'", "'"), ("\\e", "\\"), ("\\ ", " "), ("\\~", " "), ("\\0", " "),
                   ("\\&", ""), ("\\|", ""), ("\\^", ""), ("\\%", ""), ("\\c", ""), ("\\:", ""), ("\\,", ""),
                   ("\\/", ""))
_TEXT_MACROS = {"B", "I", "BR", "RB", "BI", "IB", "IR", "RI", "SM", "SB", "Nm", "Nd", "Nx", "Ox", "Fx", "Bx"}


@dataclasses.dataclass
class Summary:
    command: str  # page name, e.g. "git-add"
    section: str  # "1", "6" or "8"
    summary: str  # e.g. "Add file contents to the index"
    package: str


def _named_char(match):
    name = match.group(1) or match.group(2)
    return _CHARS.get(name, "")


def troff_text(line):
    """Plain text of one line of troff input."""
    line = line.split('\\"', 1)[0]
    line = _FONT.sub("", line)
    line = _SIZE.sub("", line)
    line = _STRING.sub(_named_char, line)
    line = _NAMED_CHAR.sub(_named_char, line)
    for escape, text in _SIMPLE_ESCAPES:
        line = line.replace(escape, text)
    return line


def _macro_text(line):
    """(kind, text) for a text macro line, kind being "Nm", "Nd" or ""; None for any other request.

    Alternating-font macros (.BR, .IR, ...) print their arguments without spaces between them (".BR ls (1)" ->
    "ls(1)"); the others print them separated by spaces."""
    fields = line[1:].split(None, 1)
    if not fields or fields[0] not in _TEXT_MACROS:
        return None
    args = fields[1] if len(fields) > 1 else ""
    args = re.findall(r'"[^"]*"|\S+', args)
    words = [a.strip('"') for a in args]
    if fields[0] in ("Nm", "Nd"):
        return fields[0], " ".join(words)
    alternating = fields[0] in ("BR", "RB", "BI", "IB", "IR", "RI")
    return "", ("" if alternating else " ").join(words)


def _mdoc_inline(line):
    """Text of an mdoc(7) macro that continues a .Nd line (".Dq Go Fish" -> '"Go Fish"')."""
    fields = line[1:].split(None, 1)
    words = troff_text(fields[1]) if len(fields) > 1 else ""
    return '"%s"' % words if fields and fields[0] in ("Dq", "Sq", "Ql", "Qq") else words


def _logical_lines(source):
    """Input lines with backslash-newline continuations joined."""
    return source.replace("\\\n", "").split("\n")


def name_section(source):
    """(names, summary) from a page's NAME section, or None when it has none or no summary.

    man(7) pages: the first "names \\- summary" paragraph; it ends at the next request that is not a text macro
    or a comment (.sp, .PP, .SH ...), or at a second "name \\- summary" line (pages such as bzip2(1) list one per
    command). mdoc(7) pages: the .Nm names and the .Nd summary.
    """
    lines = _logical_lines(source)
    start = next((i for i, line in enumerate(lines) if _NAME_HEADER.match(line.strip())), None)
    if start is None:
        return None
    names, summary, text = [], None, []
    for line in lines[start + 1 :]:
        if _SECTION_HEADER.match(line):
            break
        if line.startswith((".\\\"", "'\\\"")) or line.strip() in (".", ""):
            continue
        if line.startswith((".", "'")):
            macro = _macro_text(line)
            if macro is None and summary is not None:
                summary += " " + _mdoc_inline(line)
                continue
            if macro is None:
                if text:
                    break
                continue
            kind, value = macro
            value = troff_text(value)
            if kind == "Nm":
                names.append(value.strip(" ,"))
            elif kind == "Nd":
                summary = value
            else:
                text.append(value)
        else:
            value = troff_text(line)
            if text and " - " in value and " - " in " ".join(text):
                break
            text.append(value)
    if summary is None:
        joined = " ".join(" ".join(text).split())
        head, sep, tail = joined.partition(" - ")
        if not sep:
            return None
        names, summary = [n.strip() for n in head.split(",")], tail
    summary = " ".join(summary.split())
    return (names, summary) if summary else None


def _dpkg_list(info_dir, package):
    for name in (package + ".list", package + ":amd64.list", package + ":all.list"):
        path = os.path.join(info_dir, name)
        if os.path.exists(path):
            return path
    matches = sorted(glob.glob(os.path.join(info_dir, package + ":*.list")))
    return matches[0] if matches else None


def read_summaries(skips, packages=SUMMARY_PACKAGES, info_dir="/var/lib/dpkg/info"):
    """(summaries sorted by command, installed packages read) for the NAME sections of sections 1, 6 and 8."""
    by_command, used = {}, []
    for package in packages:
        listing = _dpkg_list(info_dir, package)
        if listing is None:
            skips.add("manpages", "package not installed: " + package)
            continue
        used.append(package)
        with open(listing, encoding="utf-8", errors="replace") as f:
            paths = sorted(line.strip() for line in f)
        for path in paths:
            m = _PAGE.match(path)
            if not m:
                continue
            if os.path.islink(path) or not os.path.isfile(path):
                skips.add("manpages", "alias (symlink) or missing file")
                continue
            try:
                with gzip.open(path) as g:
                    raw = g.read()
            except (OSError, EOFError):
                skips.add("manpages", "unreadable page")
                continue
            source = raw.decode("utf-8", errors="replace")
            if source.lstrip().startswith(".so "):
                skips.add("manpages", "redirect (.so) page")
                continue
            parsed = name_section(source)
            if parsed is None:
                skips.add("manpages", "no NAME summary")
                continue
            command = m.group(2)
            if command in by_command:
                skips.add("manpages", "duplicate command name")
                continue
            by_command[command] = Summary(command, m.group(1), parsed[1], package)
    return [by_command[c] for c in sorted(by_command)], used
