#!/usr/bin/python3
"""Writes the merge configs of one seed of the merge-methods experiment: one mergekit YAML per method and the
`ladle evolve` config of the evolved recipe, all over the same base and task-group experts.

  make_recipes.py OUT_DIR SEED BASE_MODEL EXPERT_DIR [EXPERT_DIR ...]

One fixed setting per method (the papers' or mergekit's/FusionBench's defaults), never tuned on the test set:
  linear            weight 1 each: the uniform average (model soup; mergekit normalises the weights)
  task_arithmetic   weight 0.3 each, lambda 1: FusionBench's scaling factor 0.3 (Ilharco et al. 2023 pick it
                    on validation data from [0, 1])
  ties              density 0.2 (Yadav et al. 2023's top-20%), weight 1, normalize true (mergekit's default: the
                    paper's disjoint mean), lambda 1
  dare_ties         density 0.5 (drop rate 0.5, survivors rescaled by 2; Yu et al. 2024), weight 0.3 as task
                    arithmetic, TIES sign election, normalize false (mergekit's default); the drop is seeded by SEED
  tsv_m             alpha 1, weight 1 (Gargiulo et al. 2025 and FusionBench's default)
  iso_cts           alpha 1, common_space_fraction 0.8 (Marczak et al. 2025 and FusionBench's default)
  evolved           task-arithmetic weights per expert searched by CMA-ES (ladle evolve) from 0.3 each, in [0, 1],
                    fitness = mean response loss per task on a seeded 96-record subset of
                    data/instructions/valid.jsonl, 48 candidates, search seed SEED; the test set is never seen
"""

import json
import os
import sys

METHODS = {
    "linear": {"models": {"weight": 1.0}, "parameters": {}},
    "task_arithmetic": {"models": {"weight": 0.3}, "parameters": {"lambda": 1.0}},
    "ties": {"models": {"weight": 1.0, "density": 0.2}, "parameters": {"normalize": True, "lambda": 1.0}},
    "dare_ties": {"models": {"weight": 0.3, "density": 0.5}, "parameters": {"normalize": False, "lambda": 1.0}},
    "tsv_m": {"models": {"weight": 1.0}, "parameters": {"alpha": 1.0}},
    "iso_cts": {"models": {"weight": 1.0}, "parameters": {"alpha": 1.0, "common_space_fraction": 0.8}},
}

EVOLVE_EVALUATIONS = 48


def merge_config(method, base, experts):
    setting = METHODS[method]
    config = {"merge_method": method}
    if method != "linear":
        config["base_model"] = base
    config["models"] = [{"model": expert, "parameters": setting["models"]} for expert in experts]
    if setting["parameters"]:
        config["parameters"] = setting["parameters"]
    config["dtype"] = "float32"
    return config


def evolve_config(seed, base, experts, valid):
    return {
        "output_dir": "evolve",
        "merge": {"merge_method": "task_arithmetic", "base_model": base,
                  "models": [{"model": expert} for expert in experts], "dtype": "float32"},
        "genome": {"weight": {"min": 0.0, "max": 1.0, "initial": METHODS["task_arithmetic"]["models"]["weight"]}},
        "fitness": {"data": valid, "metric": "loss", "max_examples": 96, "batch_size": 32, "bf16": True},
        "search": {"seed": seed, "sigma": 0.2, "max_evaluations": EVOLVE_EVALUATIONS, "max_restarts": 0},
    }


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    out_dir, seed = sys.argv[1], int(sys.argv[2])
    os.makedirs(out_dir, exist_ok=True)

    # Paths relative to OUT_DIR, where ladle resolves a config's paths: the configs name no absolute path.
    def relative(path):
        return os.path.relpath(path, out_dir)

    base, experts = relative(sys.argv[3]), [relative(path) for path in sys.argv[4:]]
    valid = relative(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../data/instructions/valid.jsonl"))
    # JSON is YAML: the configs are written as JSON documents.
    for method in METHODS:
        with open(os.path.join(out_dir, method + ".yml"), "w") as f:
            json.dump(merge_config(method, base, experts), f, indent=1)
    with open(os.path.join(out_dir, "evolve.yml"), "w") as f:
        json.dump(evolve_config(seed, base, experts, valid), f, indent=1)


if __name__ == "__main__":
    main()
