// Writing a trained model as a Hugging Face folder (config.json + safetensors + the tokenizer files), and for
// LoRA runs the adapter in PEFT's format, so results load in ladle, the merge engine and Hugging Face tools.
#pragma once

#include <filesystem>
#include <vector>

#include "lib/model/causal_lm.h"

namespace ladle::model {

struct CausalLmFolderOptions {
  std::vector<std::filesystem::path> tokenizer_files;  // copied into the folder under their own names
  // LoRA models: also write the merged weights W + (alpha/r)·B·A as the folder's model (the adapter always goes
  // to <folder>/adapter/).
  bool merge_lora = true;
  bool overwrite = true;  // replace an existing folder (atomically: the old one stays until the new is complete)
};

// Writes `model`'s current weights to `directory`, which appears only when complete:
//   plain model: config.json, model.safetensors (fp32, Hugging Face names), tokenizer files;
//   LoRA model:  adapter/ (adapter_config.json + adapter_model.safetensors, PEFT names) and, with merge_lora,
//                config.json + model.safetensors of the merged model beside it.
void write_causal_lm_folder(const CausalLm& model, const std::filesystem::path& directory,
                        const CausalLmFolderOptions& options = {});

// True when the model carries LoRA adapters.
bool has_lora_adapters(const CausalLm& model);

}  // namespace ladle::model
