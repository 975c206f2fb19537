// Merging PEFT LoRA adapters: one into its base model (`ladle merge lora`), or several with any merge method in
// ΔW space (`ladle merge lora-adapters`, lib/merge/lora_delta_merger.h), written either as a full model (the
// base plus the merged update) or as a new adapter re-factorised by truncated SVD (lib/merge/lora_factorization.h).
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lib/merge/lora_delta_merger.h"
#include "lib/merge/lora_model_writer.h"
#include "lib/merge/merge_config.h"
#include "lib/model/lora.h"

namespace ladle::merge {

// PEFT's merge_and_unload, streamed: writes `base` (a Hugging Face folder or .safetensors file) with every module
// the adapter folder adapts updated as lib/merge/lora_delta.h describes (W + s·B·A, transposed for
// fan_in_fan_out; embeddings W + s·(B·A)ᵀ; biases + s·lora_B.bias; modules_to_save tensors replacing the base's),
// config.json and tokenizer files from the base, into `directory` (see write_updated_model). Throws ladle::Error
// naming the adapter, module or weight when the adapter is invalid or does not fit the base.
UpdatedModelWriteStats merge_lora_into_model(const std::filesystem::path& base, const std::filesystem::path& adapter,
                                             const std::filesystem::path& directory,
                                             const UpdatedModelWriteOptions& options = {});

struct LoraAdaptersMergeOptions {
  // Write a full model: this base plus the merged update (overrides the config's base_model). Without it and
  // without a base_model in the config, the output is an adapter.
  std::optional<std::filesystem::path> full_model;
  // Adapter output: its rank k. Default: the sum of the adapters' ranks (which keeps a weighted sum of the
  // adapters exactly), capped at the smallest min(out, in) of the modules. Must be unset for a full model.
  std::optional<std::int64_t> rank;
  std::uint64_t seed = 0;                      // seeds the random methods (dare_*, della*), per module
  std::uint64_t max_shard_bytes = 5ull << 30;  // full model: tensor bytes per shard file
  bool overwrite = false;                      // replace an existing folder at the destination
};

// How much of one module's merged update a re-factorised adapter keeps.
struct LoraModuleEnergy {
  std::string module;
  double kept_energy = 0;   // Σ kept σᵢ²
  double total_energy = 0;  // Σ σᵢ² = ‖ΔW‖²_F
  double fraction() const { return total_energy > 0 ? kept_energy / total_energy : 1.0; }
};

struct LoraAdaptersMergeResult {
  bool full_model = false;                // true: a model folder was written; false: an adapter folder
  std::int64_t rank = 0;                  // adapter output: its rank (= its lora_alpha)
  std::vector<LoraModuleEnergy> modules;  // adapter output: energy kept per module, in module order
  std::size_t tensors = 0;                // tensors written

  // Σ kept / Σ total over every module (1 for a full model, which keeps the update whole).
  double energy_fraction() const;
  // For people: what was written and, for an adapter, the energy kept per module and overall.
  std::string text() const;
};

// A re-factorised merged adapter, kept in memory.
struct RefactorizedLoraAdapter {
  model::LoraAdapter adapter;             // r = lora_alpha = rank, so B'·A' is the merged update itself
  std::vector<LoraModuleEnergy> modules;  // energy kept per module
};

// The default rank of the merged adapter (see LoraAdaptersMergeOptions::rank).
std::int64_t default_merged_rank(const LoraDeltaMerger& merger);

// Every module's merged update re-factorised at `rank` (B' = U_k·diag(S_k), A' = V_kᵀ), stored in `dtype`; the
// other fields (dropout, fan_in_fan_out, base_model_name_or_path) from the first adapter, target_modules the last
// components of the module names. Throws ladle::Error naming the module when `rank` exceeds its min(out, in).
RefactorizedLoraAdapter refactorize_merged_adapter(const LoraDeltaMerger& merger, std::int64_t rank,
                                                   c10::ScalarType dtype);

// `ladle merge lora-adapters`: merges the config's adapters (lib/merge/lora_delta_merger.h) and writes
// `directory`: with a base model (options.full_model, else the config's base_model), that model plus the merged
// update (stored dtype: out_dtype, else each tensor's own); otherwise a PEFT adapter folder re-factorised at
// options.rank (stored dtype: out_dtype, else the first adapter's). Nothing is written when anything fails.
LoraAdaptersMergeResult merge_lora_adapters(const MergeConfig& config, const std::filesystem::path& directory,
                                            const LoraAdaptersMergeOptions& options = {});

}  // namespace ladle::merge
