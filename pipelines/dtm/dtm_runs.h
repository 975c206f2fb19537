// The trainer runs of a DTM pipeline: K sub-models (one per k-means cluster), and for the baselines K sub-models
// of a random split, one vanilla run on every record and K all-records runs for a uniform soup. Each is a normal
// trainer run of the base training config with its own data file, step budget, seed and output folder, so it can
// run in this process, in a child process or as a job on another machine (`ladle dtm --only-run NAME`).
//
// Compute is matched as the paper compares methods (Fu et al., 2024, section 4): the K sub-models together take
// total_steps optimizer steps, split in proportion to their cluster sizes (so every sub-model makes the same
// number of passes over its own data, as the authors train each for the same epochs); vanilla takes exactly their
// sum; the K soup runs take the sum split evenly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "pipelines/dtm/dtm_config.h"
#include "pipelines/dtm/dtm_layout.h"

namespace ladle::dtm {

enum class RunFamily {
  kmeans,   // DTM: a sub-model on one k-means cluster
  random,   // baseline: a sub-model on one part of a random split with the k-means sizes
  vanilla,  // baseline: all records
  soup,     // baseline: all records, one of K seeds averaged into a uniform soup
};

const char* run_family_name(RunFamily family);

struct DtmRun {
  // "kmeans-0", "random-1", "vanilla", "soup-2" (with "-seed<s>" in replicate s > 0): its folder under runs/
  std::string name;
  RunFamily family = RunFamily::kmeans;
  std::int64_t index = 0;            // the cluster, or the soup member
  std::filesystem::path train_file;  // the instruction JSONL it trains on
  std::int64_t steps = 0;            // optimizer steps
  std::uint64_t seed = 0;            // the run's seed (data order, LoRA init, evaluation subsets)
  std::uint64_t replicate = 0;       // the experiment's seed it belongs to (dtm_config.h `seeds`)
  std::int64_t k = 0;                // the K of its partition (sub-models and soup members); vanilla: 0
  // What its result depends on (DtmFingerprints::run); set by the pipeline. A run trained under another
  // fingerprint is stale: it counts as unfinished and trains afresh.
  std::string fingerprint;
};

// Steps per cluster, proportional to its size and summing to `total` exactly (largest remainder); a non-empty
// cluster gets at least one, an empty one none (and no run). Throws ladle::Error when `total` is below the number
// of non-empty clusters.
std::vector<std::int64_t> steps_per_cluster(const std::vector<std::int64_t>& sizes, std::int64_t total);

// Every run of the replicate with seed `replicate` (dtm_config.h `seeds`) at K = sizes.size(), sub-models first,
// given its k-means cluster sizes (its random split has the same); vanilla's only `with_vanilla` (once per
// replicate, whatever the K). `total_steps` is the config's, resolved (never 0); `seed` is the base training
// config's, shifted by replicate·k.
std::vector<DtmRun> plan_runs(const DtmConfig& config, const DtmLayout& layout, const std::vector<std::int64_t>& sizes,
                              std::int64_t total_steps, std::uint64_t seed, std::uint64_t replicate = 0,
                              bool with_vanilla = true);

// The run's TrainConfig: the base config with output_dir, data.train, max_steps and seed set for it, plus `extra`
// overrides ("threads=1").
trainer::TrainConfig run_train_config(const DtmConfig& config, const DtmLayout& layout, const DtmRun& run,
                             const std::vector<std::string>& extra = {});

// Whether the run finished under its current fingerprint (its dtm-run.json exists and records run.fingerprint).
bool run_finished(const DtmLayout& layout, const DtmRun& run);

// Trains the run in this process unless it finished: resumes from its latest complete checkpoint when there is one
// and the run's folder records the same fingerprint (exact resume, trainer.h), else starts afresh (replacing an
// interrupted or stale run's leftovers). Holds the run's lock
// file while it trains, so a run started elsewhere (another `--only-run` job) is waited for, never trained twice
// at once. Writes dtm-run.json last. Returns true when it trained, false when the run had finished already.
bool train_run(const DtmConfig& config, const DtmLayout& layout, const DtmRun& run,
               const std::vector<std::string>& extra = {});

}  // namespace ladle::dtm
