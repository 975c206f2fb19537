// Several PEFT LoRA adapters merged with any registered merge method in ΔW space: for every adapted module, the
// method runs on the adapters' updates ΔWᵢ = (αᵢ/rᵢ)·Bᵢ·Aᵢ.
//
// Why ΔW space: an adapter changes the model by its product B·A, not by A and B apart, and averaging the factors
// (as the DTM authors' code and PEFT's `linear` combination do) gives mean(B)·mean(A) = (1/n²)·Σᵢⱼ Bᵢ·Aⱼ, whose
// cross terms Bᵢ·Aⱼ (i ≠ j) are updates no adapter learned, instead of mean(B·A) = (1/n)·Σᵢ Bᵢ·Aᵢ. Ranks may
// differ between adapters, since only the products meet.
//
// The config is a mergekit-style YAML (lib/merge/merge_config.h) whose models are adapter folders:
//   merge_method: ties
//   models:
//     - model: ./adapter-math            # a PEFT folder: adapter_config.json + adapter_model.safetensors
//       parameters: {weight: 0.6, density: 0.5}
//     - model: ./adapter-code
//       parameters: {weight: 0.4, density: 0.5}
//   parameters: {lambda: 1.0}
//   base_model: ./llama                  # optional: the model the adapters adapt (see lib/merge/lora_merge.h)
//   dtype: float32                       # working dtype (default float32)
//   out_dtype: bfloat16                  # stored dtype of the result
// Parameters resolve as in mergekit (lib/merge/merge_plan.h): models[i].parameters, then the top-level
// parameters, then the method's default. Filters match the module's weight name
// ("model.layers.3.self_attn.q_proj.weight"), and gradients run over the layers the adapters adapt (layer k of
// n is at t = k/(n−1); modules outside the layers at t = 0 before them, 1 after). Every model gets its own seed
// per module, derived from --seed and the weight name as in `ladle merge`.
//
// The method sees every adapter's ΔW as one of MethodInputs::models and, when it requires a base, a zero base:
// the ΔWs are the task vectors of task_arithmetic, ties, dare_*, breadcrumbs*, della*, sce and model_stock.
// Methods that interpolate toward the base (slerp, nearswap) therefore interpolate toward "no update".
// Each adapter's ΔW takes its modules' own r and α (rank_pattern, alpha_pattern, use_rslora: lib/merge/lora_delta.h).
// Refused with an error: slices, tokenizer_source, `fisher` keys, whole-model trimming (ties' global_trim),
// fisher (adapters carry no Fisher information for ΔW), and adapters with lora_B.bias, lora_embedding_A/B or
// modules_to_save tensors (merge those into their base with `ladle merge lora`).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "lib/merge/lora_delta.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_method.h"
#include "lib/model/lora.h"

namespace ladle::merge {

// One adapter of the config.
struct LoraMergeAdapter {
  std::string label;                // "models[1] (./adapter-code)", for messages
  std::filesystem::path path;       // its folder
  model::LoraAdapter adapter;       // as read_lora_adapter reads it
  std::vector<LoraModule> modules;  // lora_modules(adapter)
};

class LoraDeltaMerger {
 public:
  // Reads the config's adapters and resolves every parameter for every module, so that everything that can stop
  // the merge does so here. Throws ladle::Error naming the config line, key, module and adapters: an unknown
  // method or parameter, a missing required one, an adapter that cannot be read, adapters that adapt different
  // modules, give a module different ΔW shapes or disagree on fan_in_fan_out, and the refusals listed above.
  explicit LoraDeltaMerger(const MergeConfig& config, std::uint64_t seed = 0);

  const MergeMethod& method() const { return *method_; }
  const std::vector<LoraMergeAdapter>& adapters() const { return adapters_; }
  // The adapted module names, in the first adapter's order.
  const std::vector<std::string>& modules() const { return module_names_; }
  // ΔW's shape, [out, in].
  std::vector<std::int64_t> delta_shape(const std::string& module) const;
  // Whether the adapted weights are stored [in, out] (GPT-2's Conv1D): they then take ΔWᵀ.
  bool fan_in_fan_out() const { return adapters_.front().adapter.fan_in_fan_out; }
  c10::ScalarType working_dtype() const { return working_dtype_; }

  // The merged ΔW of `module`, [out, in], in the working dtype. Throws ladle::Error naming the method and the
  // module's weight when the method fails.
  at::Tensor merged_delta(const std::string& module) const;

 private:
  struct ModuleParameters {
    std::map<std::string, double> method;                  // method-wide
    std::vector<std::map<std::string, double>> per_model;  // one map per adapter
  };
  void check_config(const MergeConfig& config) const;
  void read_adapters(const MergeConfig& config);
  void check_agreement() const;
  void resolve_parameters(const MergeConfig& config);

  const MergeMethod* method_ = nullptr;
  std::vector<LoraMergeAdapter> adapters_;
  std::vector<std::string> module_names_;
  std::map<std::string, ModuleParameters> parameters_;  // module -> its resolved parameters
  c10::ScalarType working_dtype_ = c10::kFloat;
  std::uint64_t seed_ = 0;
};

}  // namespace ladle::merge
