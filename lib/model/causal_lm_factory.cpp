#include "lib/model/causal_lm_factory.h"

#include <ATen/ATen.h>

#include <system_error>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/torch_dtype.h"
#include "lib/log/log.h"
#include "lib/model/gpt2.h"
#include "lib/model/projection.h"
#include "lib/model/rotary_causal_lm.h"
#include "lib/util/error.h"

namespace ladle::model {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<CausalLm> construct(const CausalLmConfig& config) {
  if (config.is_gpt2()) return std::make_shared<Gpt2LmHeadModel>(config);
  return std::make_shared<RotaryCausalLm>(config);
}

CausalLmConfig read_config_beside(const fs::path& weights_file) {
  const fs::path path = weights_file.parent_path() / "config.json";
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    throw Error(weights_file.string() + ": no config.json beside it says which model the weights belong to");
  }
  return CausalLmConfig::from_file(path);
}

}  // namespace

std::shared_ptr<CausalLm> create_causal_lm(const CausalLmConfig& config, std::uint64_t seed) {
  auto model = construct(config);
  model->reset_parameters(seed);
  model->eval();
  return model;
}

std::shared_ptr<CausalLm> load_causal_lm(const fs::path& hf_folder_or_file, at::Device device, at::ScalarType dtype) {
  if (!at::isFloatingType(dtype)) {
    throw Error(std::string("load_causal_lm: parameter dtype must be floating-point, got ") + c10::toString(dtype));
  }
  const io::CheckpointReader reader(hf_folder_or_file);
  std::error_code error;
  const bool is_folder = fs::is_directory(hf_folder_or_file, error);
  const fs::path config_path = (is_folder ? hf_folder_or_file : hf_folder_or_file.parent_path()) / "config.json";
  if (is_folder && !reader.config()) {
    throw Error(hf_folder_or_file.string() + ": no config.json says which model the weights belong to");
  }
  const CausalLmConfig config =
      is_folder ? CausalLmConfig::from_file(config_path) : read_config_beside(hf_folder_or_file);

  auto model = construct(config);
  NamedTensors tensors;
  for (const auto& name : reader.names()) tensors.insert(name, reader.tensor(name));
  model->load_hf_state_dict(tensors, hf_folder_or_file.string());
  if (dtype != at::kFloat) model->to(dtype);
  if (device != at::Device(at::kCPU)) model->to(device);
  model->eval();
  LADLE_LOG(debug) << "loaded " << config.architecture << " from " << hf_folder_or_file.string() << " ("
                   << reader.parameter_count() << " stored elements)";
  return model;
}

void save_causal_lm(const CausalLm& model, const fs::path& directory, const io::CheckpointWriteOptions& options) {
  for (const auto& [name, projection] : model.named_projections()) {
    if (projection->has_lora()) {
      throw Error(directory.string() + ": cannot save the model with its LoRA adapter on " + name +
                  " as plain weights; save the adapter with save_lora_adapter or merge it first "
                  "(merge_lora_into_base)");
    }
  }
  io::save_checkpoint(directory, model.hf_state_dict(),
                      model.config().to_json(io::torch_dtype_name(model.parameter_dtype())), options);
}

}  // namespace ladle::model
