// Creating, loading and saving causal LMs as Hugging Face model folders (config.json + safetensors).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <memory>

#include "lib/io/checkpoint_writer.h"
#include "lib/model/causal_lm.h"

namespace ladle::model {

// A model of the config's family (LlamaForCausalLM or Gpt2LmHeadModel) with HF-style initial weights from
// `seed` (CausalLm::reset_parameters): fp32, on the CPU, in eval mode (call train() before training).
std::shared_ptr<CausalLm> create_causal_lm(const CausalLmConfig& config, std::uint64_t seed);

// Loads a Hugging Face model: a folder with config.json and safetensors weights (single file or sharded with an
// index), or one .safetensors file with config.json beside it. Stored tensors of any floating dtype (bf16,
// fp16, ...) are converted to `dtype` parameters (fp32 by default), which are then moved to `device`. The model
// is in eval mode, as from_pretrained returns it. Throws ladle::Error naming the file for a missing or invalid
// config, an unsupported architecture, or weights that do not match it (see CausalLm::load_hf_state_dict).
std::shared_ptr<CausalLm> load_causal_lm(const std::filesystem::path& hf_folder_or_file, at::Device device = at::kCPU,
                                         at::ScalarType dtype = at::kFloat);

// Writes config.json (CausalLmConfig::to_json with torch_dtype from the parameters) and the weights under their
// Hugging Face names, sharded as options say, to `directory`, which appears only when complete. Throws
// ladle::Error when the model carries LoRA adapters (save them with save_lora_adapter, or merge them first with
// merge_lora_into_base), since the folder would silently lack them.
void save_causal_lm(const CausalLm& model, const std::filesystem::path& directory,
                    const io::CheckpointWriteOptions& options = {});

}  // namespace ladle::model
