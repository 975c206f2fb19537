// The `ladle evolve` loop: CMA-ES (lib/search/cma_es.h) over a MergeGenome, each candidate merged in memory by the
// merge engine (merge::merge_into_tensors: the input models opened and memory-mapped once for the whole run) and
// scored by RecipeFitness, so a candidate costs one merge pass plus one evaluation. The candidates of a generation
// go fitness.workers at a time: merged one after another, then scored side by side by workers that each have their
// own RecipeFitness; merges and scorings all run on one ATen thread (single_threaded_workers.h), so fitness values,
// and with them the whole search, do not depend on the worker count. Like a training run, a run keeps the memory its
// scorings free for the next ones, for the whole process (lib/util/malloc_tuning.h: retain_freed_memory).
//
// Files in output_dir:
//   state.json        after every generation, written atomically: the config's text, the CMA-ES state and the best
//                     candidate so far. A run started again with the same config resumes from it (a run killed
//                     mid-generation redoes that generation) and, everything being seeded and the merge and the
//                     evaluation deterministic, ends with the result an uninterrupted run gets.
//   candidates.jsonl  one line per candidate, in candidate order: generation, index, genes, the per-model parameter
//                     values, fitness and the metric per task, seconds (merge and evaluation) and merge_seconds
//   recipe.yml        at the end: the best candidate's recipe, a mergekit config (`ladle merge recipe.yml OUT`)
//   result.json       at the end: best fitness, per-task values, genes, evaluations, generations, why it stopped
//   model/            at the end: the best recipe merged, as a Hugging Face folder (merge::write_merged_model)
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pipelines/evolve/evolve_config.h"

namespace ladle::evolve {

struct EvolveRunOptions {
  // Stop once this many generations are done, without the final outputs, as a kill would (0: run to the end).
  std::int64_t stop_after_generations = 0;
  bool write_model = true;  // write output_dir/model at the end
  // Receives the progress line of every generation (default: standard output).
  std::function<void(const std::string&)> progress;
};

struct EvolveOutcome {
  bool finished = false;          // the search stopped and the final outputs were written
  std::string stop_reason;        // the search's, when finished
  std::int64_t generations = 0;
  std::int64_t evaluations = 0;
  double best_fitness = 0;
  std::map<std::string, double> best_per_task;
  std::vector<double> best_point;  // gene units
  std::string best_recipe;         // mergekit YAML
};

EvolveOutcome run_evolve(const EvolveConfig& config, const EvolveRunOptions& options = {});

}  // namespace ladle::evolve
