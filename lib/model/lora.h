// LoRA adapters (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022) on a causal LM's
// dense layers, trained with the base weights frozen, saved and loaded in PEFT's format, and merged into plain
// Hugging Face weights.
//
// PEFT format (what peft's save_pretrained writes for a LoraConfig): a folder with adapter_config.json
// {"peft_type": "LORA", "r", "lora_alpha", "lora_dropout", "target_modules", "bias": "none",
// "task_type": "CAUSAL_LM", "fan_in_fan_out", "base_model_name_or_path", ...} and adapter_model.safetensors with
// tensors "base_model.model.<module>.lora_A.weight" [r, in] and "base_model.model.<module>.lora_B.weight"
// [out, r], <module> being the Hugging Face module name (model.layers.0.self_attn.q_proj,
// transformer.h.0.attn.c_attn, ...).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/lora_adapter_config.h"
#include "lib/weights/named_tensors.h"

namespace ladle::model {

class CausalLm;

// An adapter as PEFT stores it: adapter_config.json's fields and the tensors.
struct LoraAdapter : LoraAdapterConfig {
  NamedTensors tensors;  // PEFT names, see above
};

// Adds an adapter (A Kaiming-uniform, B zero: see Projection::add_lora) to every dense layer the targets match
// and freezes everything else: afterwards exactly the adapter parameters require grad. Returns the adapted
// module names. Throws ladle::Error when options are invalid, a target matches no dense layer, the model
// already has adapters, or the matched layers mix nn.Linear and Conv1D layouts (PEFT's one fan_in_fan_out flag
// cannot describe that).
std::vector<std::string> add_lora_adapters(CausalLm& model, const LoraOptions& options);

// The model's adapter (tensors detached, sharing storage with the live parameters). target_modules are the
// last components of the adapted module names, which match the same layers. Throws ladle::Error when the model
// has no adapter.
LoraAdapter lora_adapter(const CausalLm& model, const std::string& base_model_name_or_path = "");

// Adds the adapter's layers to the model (add_lora_adapters with its options) and copies its tensors into them.
// Every expected tensor must be present with its exact shape and nothing else; otherwise the adapters are
// removed again and ladle::Error names the missing, unexpected and mis-shaped tensors.
void load_lora_adapter(CausalLm& model, const LoraAdapter& adapter);

// Writes adapter_config.json and adapter_model.safetensors into `directory`, which appears only when complete.
// Throws ladle::Error when `directory` exists and overwrite is false.
void save_lora_adapter(const LoraAdapter& adapter, const std::filesystem::path& directory, bool overwrite = false);

// Reads a PEFT LoRA folder: adapter_config.json as parse_lora_adapter_config reads it (lib/model/
// lora_adapter_config.h) and the tensors of adapter_model.safetensors. A folder with only a pickle
// adapter_model.bin is refused (unpickling can execute code).
LoraAdapter read_lora_adapter(const std::filesystem::path& directory);

// Plain Hugging Face weights with every adapted weight W replaced by W + (alpha/r)·B·A (transposed to [in, out]
// when fan_in_fan_out), computed in fp32 and stored in W's dtype; other tensors are shared with `base`. This is
// PEFT's merge_and_unload for a plain adapter (require_plain_lora_adapter; lib/merge/lora_merge.h applies the
// rest). Throws ladle::Error naming the tensor when an adapted weight is missing from `base`, the adapter lacks
// one of a lora_A/lora_B pair, or shapes disagree.
NamedTensors merge_lora_into_base(const NamedTensors& base, const LoraAdapter& adapter);

// The same on a live model: adds each update into its base weight and removes the adapters. Parameters keep
// their requires_grad flags. A no-op without adapters.
void merge_lora_into_base(CausalLm& model);

}  // namespace ladle::model
