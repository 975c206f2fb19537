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
//
// A checkpoint is written under a temporary name beside its final one ("step-00000100.partial-<pid>") and
// renamed into place when complete (io::AtomicDirectory), so an interrupted write never looks complete: a
// checkpoint counts as complete when its name is exactly step-<digits> and it holds trainer_state.json.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
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

// The checkpoint to resume from: `path` itself when it is a complete checkpoint, else the complete checkpoint
// with the highest step in path/checkpoints/ or in path/. Throws ladle::Error when there is none, naming any
// incomplete leftovers it ignored.
std::filesystem::path find_latest_checkpoint(const std::filesystem::path& path);

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
