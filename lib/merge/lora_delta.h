// The weight updates of a PEFT LoRA adapter, module by module: ΔW = s·B·A (Hu et al., "LoRA: Low-Rank Adaptation
// of Large Language Models", ICLR 2022, eq. 3) with PEFT's scale s = α/r, or α/√r with use_rslora (Kalajdzievski
// 2023, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA"), r and α the module's own when
// rank_pattern / alpha_pattern name it (lib/model/lora.h pattern_value).
//
// What an adapter holds, as PEFT's LoraModel saves it (peft/tuners/lora/layer.py) and merge_and_unload applies it:
//   <module>.lora_A.weight [r, in], .lora_B.weight [out, r]   a Linear layer: W += s·B·A
//   <module>.lora_B.bias [out]                                lora_bias: the layer's bias += s·bias
//   <module>.lora_embedding_A [r, vocab], .lora_embedding_B [hidden, r]
//                                                             an Embedding: W [vocab, hidden] += s·(B·A)ᵀ
//                                                             (PEFT's Embedding.get_delta_weight transposes)
//   <module>.weight, <module>.bias, ... for a module in modules_to_save: the trained copy, which replaces the
//                                                             base's tensor (merge_and_unload keeps that copy)
// each name prefixed by "base_model.model.".
//
// Updates are [out, in], the layout of nn.Linear's weight, whatever the adapted layer's layout; a base weight
// stored [in, out] (GPT-2's Conv1D, PEFT's fan_in_fan_out) takes ΔWᵀ. lib/model/lora.h reads and writes the
// adapters; merge_lora_into_base there is the whole-model, in-memory form of adding plain adapters' updates.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/model/lora.h"

namespace ladle::merge {

// One adapted module of an adapter.
struct LoraModule {
  std::string name;        // the Hugging Face module name, e.g. "model.layers.0.self_attn.q_proj"
  at::Tensor a;            // lora_A, [r, in]; an embedding's lora_embedding_A, [r, vocab]
  at::Tensor b;            // lora_B, [out, r]; an embedding's lora_embedding_B, [hidden, r]
  at::Tensor bias;         // lora_B.bias, [out] (PEFT's lora_bias); undefined without one
  bool embedding = false;  // lora_embedding_A/B: the update is (B·A)ᵀ
  double scale = 1;        // s: α/r or α/√r with the module's r and α

  // The base model's weight the update is added to: name + ".weight".
  std::string weight_name() const { return name + ".weight"; }
  // The base model's bias lora_B.bias is added to: name + ".bias".
  std::string bias_name() const { return name + ".bias"; }
  // ΔW's shape: [out, in], an embedding's [vocab, hidden].
  std::vector<std::int64_t> delta_shape() const;
};

// A tensor of a modules_to_save module: it replaces the base model's tensor of that name.
struct SavedModuleTensor {
  std::string name;  // the base model's tensor, e.g. "lm_head.weight"
  at::Tensor tensor;
};

// The adapter's modules, in the order their tensors appear in the adapter. Throws ladle::Error naming `label` (the
// adapter's folder) and the tensor for a tensor not named as above, one of a modules_to_save module the config
// does not list, a lora_A without its lora_B (or the reverse), a lora_B.bias without lora_bias in the config, a
// non-floating tensor, or factors whose shapes are not those above with the module's r.
std::vector<LoraModule> lora_modules(const model::LoraAdapter& adapter, const std::string& label);

// The tensors of the adapter's modules_to_save modules, in the adapter's order (checked as lora_modules does).
std::vector<SavedModuleTensor> saved_module_tensors(const model::LoraAdapter& adapter, const std::string& label);

// ΔW = s·B·A (an embedding's s·(B·A)ᵀ), [out, in] (delta_shape()), computed and returned in `dtype`.
at::Tensor lora_delta_weight(const LoraModule& module, c10::ScalarType dtype = c10::kFloat);

}  // namespace ladle::merge
