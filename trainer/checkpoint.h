// Training checkpoints on disk: where they live, which are complete, and the pieces of one.
//
// OUTPUT_DIR/checkpoints/step-00000100/    (8 digits: names sort by step)
//   trainer_state.json     step and epoch counters, data-loader position, optimizer and schedule scalars,
//                          metrics, the callbacks' names and kinds, and what the run must match to resume
//   model/                 the model as a Hugging Face folder (fp32 safetensors)   ... or, for LoRA runs,
//   adapter/               the adapter in PEFT format (the frozen base comes from the run's model.path)
//   optimizer.safetensors  every optimizer buffer per parameter ("exp_avg.<name>", ...), bit for bit
//   rng.safetensors        torch's default CPU generator state of every process ("torch_cpu_generator.rank0")
//   callbacks/<name>/      each callback's state.safetensors, state.json and own files (callback.h)
//   checksums.json         size and XXH3-128 hash of every other file (lib/io/checksum_manifest.h), written last;
//                          --resume passes over a checkpoint that does not match it
//
// A checkpoint is written under a temporary name beside its final one ("step-00000100.partial-<pid>") and
// renamed into place when complete (io::AtomicDirectory), so an interrupted write never looks complete: a
// checkpoint counts as complete when its name is exactly step-<digits> and it holds trainer_state.json (checkpoints
// written before checksums.json existed have none, and still count).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "trainer/callback.h"

namespace ladle::trainer {

inline constexpr const char* kTrainerStateFile = "trainer_state.json";

struct CheckpointInfo {
  std::filesystem::path path;
  std::int64_t step = 0;
};

// OUTPUT_DIR/checkpoints.
std::filesystem::path checkpoints_dir(const std::filesystem::path& output_dir);
// OUTPUT_DIR/checkpoints/step-<8 digits>.
std::filesystem::path checkpoint_path(const std::filesystem::path& output_dir, std::int64_t step);

// The complete checkpoints in a checkpoints folder, by increasing step (none when it does not exist).
std::vector<CheckpointInfo> complete_checkpoints(const std::filesystem::path& directory);

// The checkpoints a --resume of `path` may start from, newest first: `path` itself when it is a complete
// checkpoint, else the complete checkpoints in path/checkpoints/ or (when there are none there) in path/. Throws
// ladle::Error when there is none, naming any incomplete leftovers it ignored.
std::vector<std::filesystem::path> resume_candidates(const std::filesystem::path& path);
// The first of resume_candidates(path).
std::filesystem::path find_latest_checkpoint(const std::filesystem::path& path);
// Whether a complete checkpoint can be used: it matches its checksums.json, or it has none (written before
// checkpoints had one: taken, with a warning that it cannot be verified and then `use`, e.g. "resuming from it").
// A mismatch (a missing, truncated or changed file) is logged as a warning naming each file and what differs, and
// described in `problems` when given.
bool checkpoint_passes_checksums(const std::filesystem::path& checkpoint, const std::string& use,
                                 std::string* problems = nullptr);
// The checkpoint to resume from: the first of resume_candidates(path) that matches its checksums.json. One that
// does not (a missing, truncated or changed file) is passed over with a warning naming each file and what differs,
// for the previous complete one; one without a manifest (written before checkpoints had one) is taken with a
// warning that it cannot be verified. Throws ladle::Error naming every problem when no candidate matches.
std::filesystem::path find_checkpoint_to_resume(const std::filesystem::path& path);

// Deletes the oldest complete checkpoints in OUTPUT_DIR/checkpoints until `keep_last` remain (0: keep all).
void prune_checkpoints(const std::filesystem::path& output_dir, std::size_t keep_last);
// Deletes "*.partial-*" leftovers of interrupted checkpoint writes in OUTPUT_DIR/checkpoints; returns how many.
std::size_t remove_partial_checkpoints(const std::filesystem::path& output_dir);

// A callback's state in <checkpoint>/callbacks/<name>/: tensors (CPU copies) to state.safetensors, JSON to
// state.json, nothing for an empty part.
void write_callback_state(const std::filesystem::path& directory, const CallbackState& state);
// The state written there (an empty state when the folder holds neither file); `directory` is set.
CallbackState read_callback_state(const std::filesystem::path& directory);

// Torch's default CPU generator (dropout, random init), as its serialised state [N] uint8.
at::Tensor cpu_generator_state();
void set_cpu_generator_state(const at::Tensor& state);

}  // namespace ladle::trainer
