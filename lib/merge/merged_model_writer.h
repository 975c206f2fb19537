// Writes a merged model as a Hugging Face folder that appears only when complete: the merged tensors in sharded
// safetensors with their index, config.json from the reference model (layer count, torch_dtype and vocab_size
// updated), the tokenizer files of the tokenizer source, the config echoed as mergekit_config.yml, and a short
// README.md model card, as mergekit's run_merge writes them (mergekit/merge.py).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/merge/input_models.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_executor.h"
#include "lib/merge/merge_plan.h"

namespace ladle::merge {

// The file of a merge recipe's stage output that records the stage's fingerprint (merge_recipe.h).
inline constexpr const char* kRecipeFingerprintFile = "ladle-recipe-fingerprint";

struct MergedModelWriteOptions {
  std::uint64_t max_shard_bytes = 5ull << 30;  // tensor bytes per shard file (--out-shard-size)
  bool overwrite = false;                      // replace an existing folder at the destination
  // A recipe stage's fingerprint, written into the folder as kRecipeFingerprintFile before the folder appears, so
  // that a complete-looking stage output always carries it; empty: none (a single merge).
  std::string recipe_fingerprint;
  MergeExecutionOptions execution;             // threads, device, seed
};

// The README.md model card: method, models and their roles, parameters, the config, the ladle version.
std::string merged_model_card(const MergeConfig& config, const MergePlan& plan, const InputModels& models,
                              const std::string& model_name);

// Writes the folder (see above). Throws ladle::Error before any work when `directory` exists and overwrite is
// false; on any failure nothing is left at `directory`.
MergeExecutionStats write_merged_model(const MergeConfig& config, const MergePlan& plan, const InputModels& models,
                                       const std::filesystem::path& directory,
                                       const MergedModelWriteOptions& options = {});

}  // namespace ladle::merge
