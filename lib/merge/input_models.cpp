#include "lib/merge/input_models.h"

#include <system_error>

#include "lib/merge/tensor_names.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

// Finds the layer stack and sorts every tensor into it or the other tensors.
void read_layer_structure(InputModel& model) {
  const std::vector<std::string> names = model.reader->names();
  std::map<std::string, std::size_t> tensors_per_stack;
  for (const auto& name : names) {
    if (const auto layer = parse_layer_tensor_name(name)) ++tensors_per_stack[layer->stack];
  }
  for (const auto& [stack, count] : tensors_per_stack) {
    if (model.layer_stack.empty() || count > tensors_per_stack[model.layer_stack]) model.layer_stack = stack;
  }
  for (const auto& name : names) {
    const auto layer = parse_layer_tensor_name(name);
    if (layer && layer->stack == model.layer_stack) {
      model.layers[layer->index].push_back(layer->suffix);
      model.layer_count = std::max(model.layer_count, layer->index + 1);
    } else {
      model.other_tensors.push_back(name);
    }
  }
}

}  // namespace

std::optional<fs::path> InputModel::folder() const {
  std::error_code error;
  if (fs::is_directory(reference.path, error)) return reference.path;
  return std::nullopt;
}

std::string InputModel::architecture() const {
  if (!reader || !reader->config()) return "";
  const auto& config = *reader->config();
  std::string text;
  if (config.contains("architectures") && config["architectures"].is_array()) {
    for (const auto& name : config["architectures"]) {
      if (name.is_string()) text += (text.empty() ? "" : ", ") + name.get<std::string>();
    }
  }
  if (text.empty() && config.contains("model_type") && config["model_type"].is_string()) {
    text = config["model_type"].get<std::string>();
  }
  return text;
}

std::optional<std::int64_t> InputModel::configured_layer_count() const {
  if (!reader || !reader->config()) return std::nullopt;
  for (const char* key : {"num_hidden_layers", "n_layer", "num_layers"}) {
    const auto& config = *reader->config();
    if (config.contains(key) && config[key].is_number_integer()) return config[key].get<std::int64_t>();
  }
  return std::nullopt;
}

InputModels::InputModels(const MergeConfig& config) {
  for (const auto& reference : config.referenced_models()) {
    InputModel model;
    model.reference = reference;
    try {
      model.reader = std::make_unique<io::CheckpointReader>(reference.path);
      read_layer_structure(model);
    } catch (const Error& e) {
      model.reader.reset();
      model.open_error = e.what();
    }
    models_.push_back(std::move(model));
  }
}

std::size_t InputModels::index_of(const ModelReference& reference) const {
  for (std::size_t i = 0; i < models_.size(); ++i) {
    if (models_[i].reference == reference) return i;
  }
  throw Error("model '" + reference.name + "' is not one of the config's models");
}

void InputModels::require_open() const {
  for (const auto& model : models_) {
    if (!model.is_open()) {
      throw Error("model '" + model.reference.name + "' (" + model.reference.path.string() +
                  "): cannot be opened: " + model.open_error);
    }
  }
}

}  // namespace ladle::merge
