#include "callbacks/checkpoint_series_merge.h"

#include <string>

#include "lib/merge/weighted_model_sum.h"
#include "lib/util/error.h"
#include "trainer/checkpoint.h"

namespace ladle::callbacks {
namespace {

std::string steps_text(const std::vector<SeriesCheckpoint>& checkpoints) {
  std::string text;
  for (const auto& checkpoint : checkpoints) text += (text.empty() ? "" : ", ") + std::to_string(checkpoint.step);
  return text;
}

}  // namespace

std::vector<SeriesCheckpoint> mergeable_checkpoints(const std::filesystem::path& run_dir) {
  const std::filesystem::path directory = trainer::checkpoints_dir(run_dir);
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    throw Error(run_dir.string() + ": has no checkpoints/ folder (a run writes one with checkpoint.every_steps)");
  }
  std::vector<SeriesCheckpoint> found;
  for (const auto& checkpoint : trainer::complete_checkpoints(directory)) {
    if (!trainer::checkpoint_passes_checksums(checkpoint.path, "merging it")) continue;
    const std::filesystem::path model = checkpoint.path / "model";  // the trainer's layout (trainer/checkpoint.h)
    if (!std::filesystem::is_directory(model, error)) {
      throw Error(checkpoint.path.string() + ": has no model/ folder (a LoRA run's checkpoints hold only the " +
                  "adapter; merge those with `ladle merge` and the base model)");
    }
    found.push_back({model, checkpoint.step});
  }
  return found;
}

CheckpointSeriesMerge merge_checkpoint_series(const std::filesystem::path& run_dir,
                                              const merge::SeriesWeighting& weighting, std::size_t last,
                                              const std::filesystem::path& output, bool overwrite) {
  if (last == 0) throw Error("--last: expected at least 1 checkpoint to merge, got 0");
  std::vector<SeriesCheckpoint> all = mergeable_checkpoints(run_dir);
  if (last > all.size()) {
    throw Error("--last " + std::to_string(last) + ": " + run_dir.string() + " has " + std::to_string(all.size()) +
                " complete checkpoint(s)" + (all.empty() ? "" : " (steps " + steps_text(all) + ")"));
  }
  CheckpointSeriesMerge merged;
  merged.checkpoints.assign(all.end() - static_cast<std::ptrdiff_t>(last), all.end());
  merged.weights = merge::series_weights(weighting, last);
  std::vector<std::filesystem::path> models;
  for (const auto& checkpoint : merged.checkpoints) models.push_back(checkpoint.model);
  merged.stats = merge::write_weighted_model_sum(models, merged.weights, output, overwrite);
  return merged;
}

}  // namespace ladle::callbacks
