#!/usr/bin/env python3
"""Every path into the repository that the README, docs/ and the code's comments name must exist.

A path counts when it starts with one of the repository's top-level folders (lib/, trainer/, ..., scripts/) and
ends in a file name with an extension or in '/'; paths that runs create (out/, data/, build/) are not checked.
Prints each dangling reference as FILE:LINE: PATH and exits 1 when there is any.
Usage: check_file_references.py REPOSITORY_ROOT
"""
import pathlib
import re
import subprocess
import sys

FOLDERS = "lib|trainer|clustering|callbacks|pipelines|cli|tests|examples|bench|scripts|docs|cmake|\\.ci"
# A path: a top-level folder, then path characters; it must not be preceded by a path character, so that
# "out/dtm/report/" or "/usr/lib/x" does not count as "lib/...".
PATH = re.compile(r"(?<![\w./-])((?:%s)/[\w./-]*[\w/])" % FOLDERS)
# Where a file's prose is: Markdown is all prose; in code only the comments are (a string such as a checkpoint's
# "callbacks/<name>/state.json" names a file inside an output folder, not in the repository).
COMMENT = {".h": "//", ".cpp": "//", ".cmake": "#", ".txt": "#", ".sh": "#", ".py": "#", ".yml": "#",
           ".yaml": "#", ".in": "#"}


def tracked_files(root):
    listing = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], check=True, capture_output=True).stdout
    return [root / name for name in listing.decode().split("\0") if name]


def is_reference(path):
    """Placeholders (lib/merge/methods/<name>.h), globs and bare folder names are not file references."""
    if any(c in path for c in "*<>{}"):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return path.endswith("/") or "." in last


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    tracked = set(tracked_files(root))
    dangling = []
    for file in sorted(tracked):
        if (file.suffix != ".md" and file.suffix not in COMMENT) or not file.is_file():
            continue
        # Test data may name files that must not exist; this checker names example paths itself.
        if file.name == "check_file_references.py":
            continue
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
            prose = line if file.suffix == ".md" else line.partition(COMMENT[file.suffix])[2]
            for match in PATH.finditer(prose):
                path = match.group(1).rstrip(".")
                if is_reference(path) and not (root / path).exists():
                    dangling.append(f"{file.relative_to(root)}:{number}: {path}")
    for entry in dangling:
        print(entry)
    print(f"{len(dangling)} dangling file references")
    return 1 if dangling else 0


if __name__ == "__main__":
    sys.exit(main())
