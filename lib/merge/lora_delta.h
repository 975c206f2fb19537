// The weight updates of a PEFT LoRA adapter, module by module: ΔW = (α/r)·B·A (Hu et al., "LoRA: Low-Rank
// Adaptation of Large Language Models", ICLR 2022, eq. 3 with PEFT's scaling α/r).
//
// Updates are [out, in], the layout of nn.Linear's weight, whatever the adapted layer's layout; a base weight
// stored [in, out] (GPT-2's Conv1D, PEFT's fan_in_fan_out) takes ΔWᵀ. lib/model/lora.h reads and writes the
// adapters; merge_lora_into_base there is the whole-model, in-memory form of adding these updates.
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
  std::string name;  // the Hugging Face module name, e.g. "model.layers.0.self_attn.q_proj"
  at::Tensor a;      // lora_A, [r, in]
  at::Tensor b;      // lora_B, [out, r]

  // The base model's weight the update is added to: name + ".weight".
  std::string weight_name() const { return name + ".weight"; }
  // ΔW's shape, [out, in].
  std::vector<std::int64_t> delta_shape() const { return {b.size(0), a.size(1)}; }
};

// The adapter's modules, in the order their tensors appear in the adapter. Throws ladle::Error naming `label` (the
// adapter's folder) and the tensor for a tensor not named base_model.model.<module>.lora_{A,B}.weight, a lora_A without
// its lora_B or the reverse, a non-floating tensor, or shapes other than [r, in] and [out, r] with the adapter's r.
std::vector<LoraModule> lora_modules(const model::LoraAdapter& adapter, const std::string& label);

// α/r of the adapter's config.
double lora_scale(const model::LoraAdapter& adapter);

// ΔW = scale·B·A, [out, in], computed and returned in `dtype`.
at::Tensor lora_delta_weight(const LoraModule& module, double scale, c10::ScalarType dtype = c10::kFloat);

}  // namespace ladle::merge
