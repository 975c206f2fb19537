// EvolveConfig: a CMA-ES search for a merge recipe (Akiba et al., "Evolutionary Optimization of Model Merging
// Recipes", 2024; mergekit-evolve), `ladle evolve --config evolve.yml`. Every key, with its default:
//
//   output_dir: out/evolve            # state.json, candidates.jsonl, recipe.yml, result.json, model/
//   merge:                            # a mergekit config in the `models` form: the template of every candidate.
//     merge_method: ties              #   Values written here are fixed; the genome's parameters are set per model.
//     base_model: ./base
//     models: [{model: ./a}, {model: ./b}]
//     parameters: {normalize: true}
//     dtype: float32
//   genome:                           # the searched per-model parameters of the method (weight, density, ...):
//     weight: {min: 0, max: 1, initial: 0.5}       # each with its bounds and starting value (required: all three)
//     density: {min: 0.1, max: 1, initial: 0.5}
//     layer_groups: 1                 # >1: each model's value is a gradient of this many points over the layers
//   fitness:                          # held-out task data the candidates are scored on (lower is better)
//     data: valid.jsonl               # instruction JSONL with a `task` per record (required)
//     metric: loss                    # loss (mean response loss per task) | exact_match | choice_accuracy
//     task_weights: {}                # task -> weight of its metric in the mean (unlisted tasks: default_task_weight)
//     default_task_weight: 1          # 0: only the listed tasks count
//     tokenizer: ""                   # tokenizer folder or file, "byte", or "": the base model's folder
//     max_examples: 256               # a seeded subset of `data` (0: all)
//     generation_examples: 0          # examples generated for the accuracy metrics
//     batch_size: 16
//     bf16: false                     # bf16 autocast for the forward passes
//     seed: 0                         # picks the subsets
//     workers: 0                      # candidates scored at once, each on one ATen thread (results do not depend
//                                     #   on it); 0: as many as ATen threads, population and memory allow
//   search:                           # CMA-ES (lib/search/cma_es.h) over the genes scaled to [0, 1]
//     seed: 0
//     sigma: 0.25                     # initial step size, in units of each gene's [min, max] width
//     population: 0                   # 0: 4 + floor(3 ln n) for n genes
//     max_evaluations: 200            # candidates merged and scored in all (required > 0: each costs a merge + eval)
//     max_restarts: 2                 # IPOP restarts (population doubled) when a run stalls
//     tol_fun: 1e-4                   # a run ends when its recent best values differ by less (fitness units)
//     tol_x: 1e-4                     # ... or its steps are smaller than this (gene units)
//     bound_penalty: 1                # weight of the squared distance outside [min, max]
//   merge_seed: 0                     # seed of random merge methods (dare_*, della*)
//   device: cpu                       # where candidates are merged and scored (lib/config/device_value.h)
//
// Relative paths resolve against evolve.yml's folder (the current directory for a value given with `ladle evolve
// --set`). Unknown keys and values of the wrong type or range are errors naming the file, the line and the key, or
// the --set argument; the merge template is checked by the merge engine's own parser. The keys are declared once in
// evolve_config.cpp (lib/config/schema.h), which reads, checks and documents them (`ladle evolve --help-config`,
// docs/config.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "lib/search/cma_es.h"

namespace ladle::config {
template <class S>
class Schema;
}  // namespace ladle::config

namespace ladle::evolve {

// One searched per-model parameter of the merge method.
struct GeneRange {
  std::string parameter;  // e.g. "weight", "density"
  double min = 0;
  double max = 1;
  double initial = 0.5;
};

struct GenomeConfig {
  std::vector<GeneRange> parameters;  // in the order written
  int layer_groups = 1;               // points of each model's layer gradient (1: one value for all layers)
};

struct FitnessConfig {
  std::filesystem::path data;                     // instruction JSONL with task labels
  std::string metric = "loss";                    // loss | exact_match | choice_accuracy
  std::map<std::string, double> task_weights;     // weight of a task's metric in the combined fitness
  double default_task_weight = 1;                 // weight of tasks not in task_weights
  std::string tokenizer;                          // "", "byte" or a sentencepiece file
  std::size_t max_examples = 256;
  std::size_t generation_examples = 0;
  std::size_t batch_size = 16;
  bool bf16 = false;
  std::uint64_t seed = 0;
  std::int64_t workers = 0;                       // candidates scored at once (0: auto, scoring_workers.h)
};

// The search's defaults where they differ from CmaEsOptions': a wider first step (a quarter of each gene's range),
// a budget of 200 candidates (each costs a merge and an evaluation), 2 IPOP restarts, and tolerances in the units
// of a merge recipe's fitness and genes rather than of a numerical optimum.
search::CmaEsOptions evolve_search_defaults();

struct EvolveConfig {
  std::filesystem::path config_file;           // the evolve.yml read (empty when built from text)
  std::string text;                            // its contents and --set overrides: a resumed run must have the same
  std::filesystem::path output_dir = "out/evolve";
  YAML::Node merge_template;                   // the `merge` mapping, model paths made absolute
  std::string merge_method;
  std::size_t model_count = 0;                 // entries of merge.models
  std::filesystem::path base_model;            // merge.base_model, or the first model when there is none
  GenomeConfig genome;
  FitnessConfig fitness;
  search::CmaEsOptions search = evolve_search_defaults();  // in gene units; mean and bounds filled by the parser
  std::uint64_t merge_seed = 0;
  std::string device = "cpu";                  // where candidates are merged and scored (lib/config/device_value.h)

  // Reads and validates evolve.yml with `overrides` ("key=value", dotted keys, YAML values; `ladle evolve --set`)
  // applied. Throws ladle::Error as the header describes.
  static EvolveConfig from_yaml_file(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
  static EvolveConfig from_yaml(const std::string& text, const std::string& label, const std::filesystem::path& base_dir,
                                const std::vector<std::string>& overrides = {});
};

// The declaration of every key (lib/config/schema.h): reading, range checks and the key reference.
const config::Schema<EvolveConfig>& evolve_config_schema();

}  // namespace ladle::evolve
