// Checkpoint-series merging (PMA, WSM: lib/merge/checkpoint_series_weights.h): the weighted sum of the last N
// training checkpoints of one run, written as a Hugging Face folder. `ladle merge-checkpoints` is its command.
//
// The checkpoints are RUN_DIR/checkpoints/step-<8 digits>/ (trainer/checkpoint.h), merged by their model/ folder.
// Only complete ones count, and among those only ones that match their checksums.json: a checkpoint with a missing,
// truncated or changed file is passed over with a warning naming the file (as --resume passes over it); one written
// before checkpoints had a manifest is taken with a warning that it cannot be verified.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "lib/merge/checkpoint_series_weights.h"
#include "lib/merge/merge_executor.h"

namespace ladle::callbacks {

struct SeriesCheckpoint {
  std::filesystem::path model;  // <checkpoint>/model, a Hugging Face folder
  std::int64_t step = 0;
};

// The run's checkpoints that can be merged (see above), by increasing step. Throws ladle::Error when RUN_DIR has no
// checkpoints/ folder, or a checkpoint holds a LoRA adapter instead of a model/ folder.
std::vector<SeriesCheckpoint> mergeable_checkpoints(const std::filesystem::path& run_dir);

struct CheckpointSeriesMerge {
  std::vector<SeriesCheckpoint> checkpoints;  // the merged ones, oldest first
  std::vector<double> weights;                // theirs, in the same order
  merge::MergeExecutionStats stats;
};

// Writes sum_i w_i theta_i over the `last` newest mergeable checkpoints, w the weighting's series_weights, to
// `output` (atomically: nothing is left there on failure), streamed through the merge engine. Throws ladle::Error
// when `last` is 0 or more than the run has, naming how many it has.
CheckpointSeriesMerge merge_checkpoint_series(const std::filesystem::path& run_dir,
                                              const merge::SeriesWeighting& weighting, std::size_t last,
                                              const std::filesystem::path& output, bool overwrite = false);

}  // namespace ladle::callbacks
