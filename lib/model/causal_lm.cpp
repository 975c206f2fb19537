#include "lib/model/causal_lm.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "lib/model/error_text.h"
#include "lib/model/layers.h"
#include "lib/model/projection.h"
#include "lib/util/error.h"
#include "lib/util/shape_text.h"
#include "lib/util/string_affixes.h"

namespace ladle::model {
namespace {

bool is_lora_parameter(const std::string& name) {
  return ends_with(name, ".lora_A.weight") || ends_with(name, ".lora_B.weight");
}

}  // namespace

CausalLm::CausalLm(CausalLmConfig config) : torch::nn::Module(config.architecture), config_(std::move(config)) {
  config_.validate();
}

NamedTensors CausalLm::hf_state_dict() const {
  NamedTensors tensors;
  for (const auto& parameter : named_parameters(/*recurse=*/true)) {
    if (!is_lora_parameter(parameter.key())) tensors.insert(parameter.key(), parameter.value().detach());
  }
  return tensors;
}

void CausalLm::load_hf_state_dict(const NamedTensors& checkpoint_tensors, const std::string& source) {
  const NamedTensors tensors = with_canonical_names(checkpoint_tensors);
  NamedTensors parameters = hf_state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, parameter] : parameters) {
    if (!tensors.contains(name)) {
      missing.push_back(name);
      continue;
    }
    const at::Tensor& tensor = tensors.at(name);
    if (!tensor.defined() || !at::isFloatingType(tensor.scalar_type())) {
      mismatched.push_back("'" + name + "' is not a floating-point tensor");
    } else if (tensor.sizes() != parameter.sizes()) {
      mismatched.push_back("'" + name + "' has shape " + shape_text(tensor.sizes()) + ", expected " +
                           shape_text(parameter.sizes()));
    }
  }
  bool tied_head_present = false;
  for (const auto& entry : tensors) {
    const std::string& name = entry.first;
    if (parameters.contains(name) || is_checkpoint_buffer(name)) continue;
    if (config_.tie_word_embeddings && name == "lm_head.weight") {
      tied_head_present = true;
      continue;
    }
    unexpected.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string message = source + " does not match " + config_.architecture + ":";
    if (!missing.empty()) message += " missing " + name_list(missing) + ";";
    if (!unexpected.empty()) message += " unexpected " + name_list(unexpected) + ";";
    for (const auto& problem : mismatched) message += " " + problem + ";";
    message.pop_back();
    throw Error(message);
  }
  // Older checkpoints store a tied lm_head next to the embedding; it must really be the same matrix.
  if (tied_head_present) {
    const at::Tensor& head = tensors.at("lm_head.weight");
    const at::Tensor& embedding = tensors.at(embedding_name());
    if (head.sizes() != embedding.sizes() || !at::equal(head, embedding)) {
      throw Error(source + ": tie_word_embeddings is true, but lm_head.weight differs from " + embedding_name());
    }
  }
  at::NoGradGuard no_grad;
  for (auto& [name, parameter] : parameters) parameter.copy_(tensors.at(name));
}

void CausalLm::reset_parameters(std::uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (const auto& module : named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    const std::string& name = module.key();
    if (auto projection = std::dynamic_pointer_cast<Projection>(module.value())) {
      projection->reset_parameters(initial_weight_std(name), generator);
    } else if (auto embedding = std::dynamic_pointer_cast<Embedding>(module.value())) {
      embedding->reset_parameters(initial_weight_std(name), generator);
    } else if (auto rms_norm = std::dynamic_pointer_cast<RmsNorm>(module.value())) {
      rms_norm->reset_parameters();
    } else if (auto layer_norm = std::dynamic_pointer_cast<LayerNorm>(module.value())) {
      layer_norm->reset_parameters();
    }
  }
}

double CausalLm::initial_weight_std(const std::string& /*module_name*/) const { return config_.initializer_range; }

std::vector<std::pair<std::string, std::shared_ptr<Projection>>> CausalLm::named_projections() const {
  std::vector<std::pair<std::string, std::shared_ptr<Projection>>> projections;
  for (const auto& module : named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto projection = std::dynamic_pointer_cast<Projection>(module.value())) {
      projections.emplace_back(module.key(), std::move(projection));
    }
  }
  return projections;
}

at::Device CausalLm::device() const { return parameters(/*recurse=*/true).front().device(); }

at::ScalarType CausalLm::parameter_dtype() const { return parameters(/*recurse=*/true).front().scalar_type(); }

}  // namespace ladle::model
