#!/usr/bin/env python3
"""Seed corpora for the fuzz targets of tests/fuzz from real files, written to OUT/<target>/ (scripts/fuzz.sh calls it).

The committed seeds (tests/fuzz/seeds/<target>/) hold small hand-written files of every format; this adds what the
tree and the data folder hold: the example configs (examples/, bench/evolve/), the head of the instruction data, and
each Hugging Face tokenizer folder's tokenizer.json (shrunk: a fuzzer's input is kilobytes, and a 10 MB vocabulary would make every
execution take a second), tokenizer_config.json and chat template, and a GPT-2 folder's vocab.json and merges.txt
(shrunk the same way). Missing data is skipped.
"""
import argparse
import json
import pathlib
import shutil

# Kept from a real tokenizer.json: its first tokens by id, and the first merges among them.
VOCAB_KEPT = 300
MERGES_KEPT = 100
INSTRUCTION_LINES = 6


def write(out, target, name, text):
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def shrunk_tokenizer(tokenizer):
    model = tokenizer.get("model", {})
    vocab = model.get("vocab")
    if isinstance(vocab, dict):
        kept = dict(sorted(vocab.items(), key=lambda item: item[1])[:VOCAB_KEPT])
        merges = []
        for merge in model.get("merges", []):
            left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
            if left in kept and right in kept and left + right in kept:
                merges.append(merge)
            if len(merges) == MERGES_KEPT:
                break
        model["vocab"], model["merges"] = kept, merges
    # Added tokens renumbered after the kept vocabulary (their ids are in the hundred thousands), and the
    # post-processor's special tokens with them.
    renumbered = {}
    added = tokenizer.get("added_tokens", [])[:20]
    for token in added:
        if token.get("content") in model.get("vocab", {}):
            token["id"] = model["vocab"][token["content"]]
        else:
            renumbered[token["id"]] = token["id"] = VOCAB_KEPT + len(renumbered)
    tokenizer["added_tokens"] = added
    processors = [tokenizer.get("post_processor") or {}]
    processors += processors[0].get("processors", [])
    for processor in processors:
        for special in (processor.get("special_tokens") or {}).values():
            special["ids"] = [renumbered.get(i, i) for i in special.get("ids", [])]
    return tokenizer


def gpt2_files_seed(folder):
    """vocab.json and merges.txt shrunk as shrunk_tokenizer does, joined by a NUL byte (the target's input)."""
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    kept = dict(sorted(vocab.items(), key=lambda item: item[1])[:VOCAB_KEPT])
    merges = ["#version: 0.2"]
    for line in (folder / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]:
        left, right = line.split(" ", 1)
        if left in kept and right in kept and left + right in kept:
            merges.append(line)
        if len(merges) > MERGES_KEPT:
            break
    return json.dumps(kept, ensure_ascii=False) + "\0" + "\n".join(merges) + "\n"


def tokenizer_seeds(out, tokenizers):
    for folder in sorted(path for path in tokenizers.glob("*") if path.is_dir()):
        if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
            write(out, "gpt2_vocab_merges", folder.name + ".txt", gpt2_files_seed(folder))
        tokenizer_json = folder / "tokenizer.json"
        if tokenizer_json.is_file():
            shrunk = shrunk_tokenizer(json.loads(tokenizer_json.read_text(encoding="utf-8")))
            write(out, "hf_tokenizer_json", folder.name + ".json", json.dumps(shrunk, ensure_ascii=False))
        config_json = folder / "tokenizer_config.json"
        if config_json.is_file():
            config = json.loads(config_json.read_text(encoding="utf-8"))
            config.pop("added_tokens_decoder", None)  # thousands of entries neither reader looks at
            write(out, "tokenizer_config", folder.name + ".json", json.dumps(config, ensure_ascii=False))
            template = config.get("chat_template")
            if isinstance(template, list):
                template = next((entry.get("template") for entry in template if entry.get("name") == "default"), None)
            if isinstance(template, str):
                write(out, "chat_template", folder.name + ".jinja", template)
        jinja = folder / "chat_template.jinja"
        if jinja.is_file():
            write(out, "chat_template", folder.name + "-file.jinja", jinja.read_text(encoding="utf-8"))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=pathlib.Path, required=True)
    parser.add_argument("--data", type=pathlib.Path, required=True, help="the data folder (scripts/prepare-data.sh)")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)

    for example in sorted((args.repo / "examples").glob("*.yml")):
        target = "merge_config" if example.name.startswith("merge-") else "train_config"
        target = "dtm_config" if example.name == "dtm.yml" else target
        write(args.out, target, example.name, example.read_text(encoding="utf-8"))
    for example in sorted((args.repo / "bench" / "evolve").glob("*.yml")):
        write(args.out, "evolve_config", example.name, example.read_text(encoding="utf-8"))

    for jsonl in sorted((args.data / "instructions").glob("**/*.jsonl")):
        with jsonl.open(encoding="utf-8") as lines:
            head = "".join(line for _, line in zip(range(INSTRUCTION_LINES), lines))
        name = str(jsonl.relative_to(args.data / "instructions")).replace("/", "-")
        write(args.out, "instruction_jsonl", name, head)

    tokenizer_seeds(args.out, args.data / "tokenizers")


if __name__ == "__main__":
    main()
