"""Compares the figures README.md quotes with a rerun's output (bench/check-readme-figures.sh runs the commands).

Every comparison prints one line: the figure, the README's value, the rerun's value and a verdict:
  OK        equal as printed (deterministic figures) or within 2x (timing figures)
  DIFFERS   a deterministic figure that is not what the README prints
  OFF >2x   a timing figure more than 2x away from the README's (machine and load dependent: a flag, not a failure)
The process exits with status 1 when a deterministic figure differs.

Usage (each subcommand reads README.md and what the rerun wrote):
  readme_figures.py dtm README DTM_OUTPUT_DIR WALL_SECONDS
  readme_figures.py evolve README PROGRESS_LINES CANDIDATES_JSONL
  readme_figures.py value README NAME README_REGEX RERUN_VALUE [timing]
"""
import json
import re
import sys

differences = 0


def show(name, readme, rerun, verdict):
    print(f"{verdict:8} {name}: README {readme} | rerun {rerun}")


def compare_exact(name, readme, rerun):
    global differences
    ok = readme == rerun
    differences += not ok
    show(name, readme, rerun, "OK" if ok else "DIFFERS")


def compare_timing(name, readme_seconds, rerun_seconds):
    ratio = rerun_seconds / readme_seconds if readme_seconds > 0 else float("inf")
    show(name, f"{readme_seconds:g} s", f"{rerun_seconds:.2f} s ({ratio:.2f}x)", "OK" if 0.5 <= ratio <= 2 else "OFF >2x")


def readme_match(readme_text, regex, name):
    found = re.search(regex, readme_text, re.S)
    if not found:
        sys.exit(f"readme_figures.py: README.md no longer has the figure '{name}' (pattern {regex!r}); update "
                 "bench/check-readme-figures.sh with the README")
    return found


def markdown_tables(text):
    """Every Markdown table of `text` as (header cells, rows of cells), cells stripped of bold markers."""
    tables, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [cell.strip().replace("**", "").strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                rows.append(cells)
        elif rows:
            tables.append((rows[0], rows[1:]))
            rows = []
    return tables


def section(text, heading):
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    end = text.find("\n### ", start + len(heading)) if end < 0 else min(end, text.find("\n### ", start + len(heading)))
    return text[start:end]


def compare_dtm(readme_path, output_dir, wall_seconds):
    readme = open(readme_path, encoding="utf-8").read()
    report = open(f"{output_dir}/report/report.md", encoding="utf-8").read()
    clusters = open(f"{output_dir}/cluster/kmeans/report.md", encoding="utf-8").read()
    demo = section(readme, "## Disperse-Then-Merge")
    demo = demo[demo.index("The report (`out/dtm/report/report.md`) of"):]
    report_tables = {tuple(header): rows for header, rows in markdown_tables(report)}
    for header, rows in markdown_tables(demo):
        # The README's tables are rows of the report's, under the same header.
        if tuple(header) not in report_tables:
            sys.exit(f"readme_figures.py: the report has no table headed {' | '.join(header)}")
        by_label = {row[0]: row for row in report_tables[tuple(header)]}
        for row in rows:
            for index, readme_cell in enumerate(row[1:], 1):
                rerun_cell = by_label[row[0]][index] if row[0] in by_label else "(not in the report)"
                compare_exact(f"DTM [{header[0]}] {row[0]}, {header[index]}", readme_cell, rerun_cell)
    theirs = readme_match(demo, r"purity ([\d.]+), NMI ([\d.]+) against the \d+ task labels; sizes ([\d, ]+)\)",
                          "DTM cluster purity, NMI and sizes")
    found = re.search(r"purity ([\d.]*\d), NMI ([\d.]*\d)", clusters)
    sizes = ", ".join(re.findall(r"^\| (?:\d+) \| (\d+) \|", clusters, re.M))
    compare_exact("DTM k-means purity", theirs.group(1), found.group(1) if found else "(not in the cluster report)")
    compare_exact("DTM k-means NMI", theirs.group(2), found.group(2) if found else "(not in the cluster report)")
    compare_exact("DTM k-means sizes", theirs.group(3).strip(), sizes)
    idle = readme_match(readme, r"from nothing\s+\(`out/` removed, `--jobs 2`, `--quiet`\) took \*\*([\d.]+) s wall",
                        "DTM pipeline wall time from nothing")
    compare_timing("DTM pipeline from nothing, wall (README: idle machine)", float(idle.group(1)), wall_seconds)


GENERATION = re.compile(r"generation (\d+): best (\S+), mean (\S+), best so far (\S+), sigma (\S+), population (\d+), "
                        r"candidates (\d+/\d+), ([\d.]+) s")


def compare_evolve(readme_path, progress_path, candidates_path):
    readme = open(readme_path, encoding="utf-8").read()
    evolve = section(readme, "### Evolving merge recipes")
    theirs = readme_match(evolve, GENERATION.pattern, "the first generation line of ladle evolve")
    lines = [GENERATION.search(line) for line in open(progress_path, encoding="utf-8")]
    lines = [line for line in lines if line]
    first = lines[0]
    for group, name in enumerate(["generation", "best", "mean", "best so far", "sigma", "population", "candidates"], 1):
        compare_exact(f"evolve first generation line, {name}", theirs.group(group), first.group(group))
    per_generation = readme_match(evolve, r"\*\*([\d.]+) s per generation with 2 workers\*\*", "evolve s/generation")
    compare_timing(f"evolve seconds per generation, 2 workers (mean of {len(lines)})", float(per_generation.group(1)),
                   sum(float(line.group(8)) for line in lines) / len(lines))
    candidates = [json.loads(line) for line in open(candidates_path, encoding="utf-8") if line.strip()]
    merge = sum(c["merge_seconds"] for c in candidates) / len(candidates)
    scoring = sum(c["seconds"] - c["merge_seconds"] for c in candidates) / len(candidates)
    per_candidate = readme_match(evolve, r"A candidate is a\s+([\d.]+) s merge plus a\s+([\d.]+) s evaluation",
                                 "evolve seconds per candidate")
    compare_timing("evolve merge per candidate", float(per_candidate.group(1)), merge)
    compare_timing("evolve evaluation per candidate", float(per_candidate.group(2)), scoring)


def compare_value(readme_path, name, regex, rerun, timing=False):
    readme = open(readme_path, encoding="utf-8").read()
    value = readme_match(readme, regex, name).group(1)
    if timing:
        compare_timing(name, float(value), float(rerun))
    else:
        # Thousands separators are the README's typography, not part of the figure.
        compare_exact(name, value.replace(",", ""), rerun.replace(",", ""))


def main(argv):
    command, readme = argv[1], argv[2]
    if command == "dtm":
        compare_dtm(readme, argv[3], float(argv[4]))
    elif command == "evolve":
        compare_evolve(readme, argv[3], argv[4])
    elif command == "value":
        compare_value(readme, argv[3], argv[4], argv[5], len(argv) > 6 and argv[6] == "timing")
    else:
        sys.exit(__doc__)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
