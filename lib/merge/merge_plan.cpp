#include "lib/merge/merge_plan.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <system_error>

#include "lib/io/dtype.h"
#include "lib/io/torch_dtype.h"
#include "lib/merge/chat_template_choice.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/merge/method_with_fishers.h"
#include "lib/merge/parameter_settings_check.h"
#include "lib/merge/tensor_names.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"
#include "lib/util/shape_text.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

bool is_floating(io::Dtype dtype) {
  return dtype == io::Dtype::F16 || dtype == io::Dtype::BF16 || dtype == io::Dtype::F32 || dtype == io::Dtype::F64;
}

// One source of a slice, after mergekit's normalize_config.
struct SliceSource {
  std::size_t model = 0;
  std::int64_t begin = 0;
  std::int64_t end = 0;
  const ParameterSettings* parameters = nullptr;          // null for a base model added to the `models` form
  const std::optional<ModelReference>* fisher = nullptr;  // its `fisher` key; null like `parameters`
  std::string label;                                      // "models[1] (./b)"
  int line = 0;
};

struct Slice {
  std::vector<SliceSource> sources;
  const ParameterSettings* parameters = nullptr;
  std::optional<std::size_t> base;  // model index
  std::string key_path;
  int line = 0;
};

class Planner {
 public:
  Planner(const MergeConfig& config, const InputModels& models) : config_(config), models_(models) {}
  MergePlan plan();

 private:
  [[noreturn]] void fail(int line, const std::string& message) const {
    throw Error(config_.where(line) + ": " + message);
  }
  const io::CheckpointReader& reader(std::size_t model) const { return *models_[model].reader; }
  std::string model_name(std::size_t model) const { return "'" + models_[model].reference.name + "'"; }

  // Every parameter the config writes, against the method's declarations (parameter_settings_check.h).
  void check_parameter_names();
  void normalize_slices();
  void check_slice(const Slice& slice) const;
  std::optional<double> lookup(const std::string& name, const SliceSource* source, const Slice& slice,
                               const std::string& tensor, double t) const;
  void resolve_parameters(PlannedTensor& tensor, const Slice& slice, const std::vector<const SliceSource*>& sources,
                          const std::vector<std::string>& input_names, double t) const;
  std::map<std::string, double> resolve_model_parameters(const SliceSource& source, const Slice& slice,
                                                         const std::string& input_name, double t,
                                                         bool enforce_required) const;
  void validate_method(const PlannedTensor& tensor, const Slice& slice) const;
  void add_tensor(const std::string& output_name, const Slice& slice, const std::vector<std::string>& input_names,
                  double t, std::int64_t output_layer);
  void add_fishers(PlannedTensor& tensor, const std::vector<const SliceSource*>& sources,
                   const std::vector<std::string>& input_names);
  void check_unused_fishers() const;
  void add_vocabulary_remap(PlannedTensor& tensor) const;
  void plan_tokenizer();
  void add_layers(const Slice& slice);
  std::vector<std::size_t> merged_models() const;
  void plan_outputs();

  const MergeConfig& config_;
  const InputModels& models_;
  const MergeMethod* method_ = nullptr;
  std::map<std::string, ParameterSpec> specs_;
  std::vector<Slice> slices_;
  std::shared_ptr<MethodWithFishers> method_with_fishers_;  // created by the first tensor that needs Fishers
  MergePlan plan_;
};

void Planner::check_parameter_names() {
  for (const auto& spec : method_->parameters()) specs_[spec.name] = spec;
  const auto check = [&](const ParameterSettings& settings, const SettingsPlace& place) {
    check_parameter_settings(config_, *method_, settings, place, plan_.warnings);
  };
  const auto own = [](const InputSource& source) {
    return SettingsPlace{source.key_path + ".parameters", true, "model '" + source.model.name + "', "};
  };
  check(config_.parameters, {"parameters"});
  for (const auto& source : config_.models) check(source.parameters, own(source));
  for (const auto& slice : config_.slices) {
    check(slice.parameters, {slice.key_path + ".parameters"});
    for (const auto& source : slice.sources) check(source.parameters, own(source));
  }
}

void Planner::normalize_slices() {
  if (!config_.models.empty()) {
    Slice slice;
    slice.key_path = "models";
    if (config_.base_model) slice.base = models_.index_of(*config_.base_model);
    bool base_listed = false;
    for (const auto& model : config_.models) {
      const std::size_t index = models_.index_of(model.model);
      base_listed = base_listed || (slice.base && index == *slice.base);
      slice.sources.push_back({index, 0, models_[index].layer_count, &model.parameters, &model.fisher,
                               model.key_path + " (" + model.model.name + ")", model.line});
    }
    if (slice.base && !base_listed) {
      const std::size_t base = *slice.base;
      slice.sources.push_back({base, 0, models_[base].layer_count, nullptr, nullptr,
                               "base_model (" + config_.base_model->name + ")", config_.base_model->line});
    }
    slices_.push_back(std::move(slice));
    return;
  }
  for (const auto& config_slice : config_.slices) {
    Slice slice;
    slice.key_path = config_slice.key_path;
    slice.line = config_slice.line;
    slice.parameters = &config_slice.parameters;
    const auto& base = config_slice.base_model ? config_slice.base_model : config_.base_model;
    if (base) slice.base = models_.index_of(*base);
    for (const auto& source : config_slice.sources) {
      slice.sources.push_back({models_.index_of(source.model), source.layer_range->first, source.layer_range->second,
                               &source.parameters, &source.fisher, source.key_path + " (" + source.model.name + ")",
                               source.line});
    }
    slices_.push_back(std::move(slice));
  }
}

void Planner::check_slice(const Slice& slice) const {
  std::set<std::size_t> seen;
  for (const auto& source : slice.sources) {
    if (!seen.insert(source.model).second) {
      fail(source.line, source.label + ": the model appears twice in " + slice.key_path +
                            "; a slice merges each model once (use separate slices to repeat layers)");
    }
    const InputModel& model = models_[source.model];
    if (source.end > model.layer_count) {
      fail(source.line, source.label + ": layer_range [" + std::to_string(source.begin) + ", " +
                            std::to_string(source.end) + ") is out of bounds: the model has " +
                            std::to_string(model.layer_count) + " layers (valid ranges lie within [0, " +
                            std::to_string(model.layer_count) + "))");
    }
    for (std::int64_t layer = source.begin; layer < source.end; ++layer) {
      if (!model.layers.count(layer)) {
        fail(source.line, source.label + ": the model has no tensors for layer " + std::to_string(layer) + " of " +
                              model.layer_stack);
      }
    }
  }
  const auto& first = slice.sources.front();
  for (const auto& source : slice.sources) {
    if (source.end - source.begin != first.end - first.begin) {
      fail(source.line, slice.key_path + ": every source must cover the same number of layers, but " + first.label +
                            " covers " + std::to_string(first.end - first.begin) + " and " + source.label +
                            " covers " + std::to_string(source.end - source.begin) +
                            (config_.models.empty() ? "" : " (use slices with layer_range to pick matching layers)"));
    }
  }
  if (method_->requires_base()) {
    if (!slice.base) {
      fail(config_.merge_method_line, "merge_method " + method_->name() + " needs a base model: set base_model");
    }
    const bool listed = std::any_of(slice.sources.begin(), slice.sources.end(),
                                    [&](const SliceSource& source) { return source.model == *slice.base; });
    if (!listed) {
      fail(slice.line, slice.key_path + ": the base model " + model_name(*slice.base) +
                           " must be one of the slice's sources (with a layer_range)");
    }
  }
}

std::optional<double> Planner::lookup(const std::string& name, const SliceSource* source, const Slice& slice,
                                      const std::string& tensor, double t) const {
  for (const ParameterSettings* settings :
       {source ? source->parameters : nullptr, slice.parameters, &config_.parameters}) {
    if (settings == nullptr) continue;
    const auto found = settings->find(name);
    if (found == settings->end()) continue;
    if (const auto value = found->second.evaluate(tensor, t)) return value;
  }
  return std::nullopt;
}

void Planner::resolve_parameters(PlannedTensor& tensor, const Slice& slice,
                                 const std::vector<const SliceSource*>& sources,
                                 const std::vector<std::string>& input_names, double t) const {
  for (const auto& [name, spec] : specs_) {
    if (spec.per_model) continue;
    if (const auto value = lookup(name, nullptr, slice, tensor.name, t)) {
      tensor.parameters[name] = *value;
    } else if (spec.default_value) {
      tensor.parameters[name] = *spec.default_value;
    } else if (spec.required) {
      fail(config_.merge_method_line, "parameter '" + name + "' is required by " + method_->name() +
                                          " but has no value for tensor '" + tensor.name +
                                          "'; set it under the top-level parameters");
    }
  }
  for (std::size_t i = 0; i < sources.size(); ++i) {
    tensor.model_parameters.push_back(resolve_model_parameters(*sources[i], slice, input_names[i], t, true));
  }
}

std::map<std::string, double> Planner::resolve_model_parameters(const SliceSource& source, const Slice& slice,
                                                                const std::string& input_name, double t,
                                                                bool enforce_required) const {
  std::map<std::string, double> values;
  for (const auto& [name, spec] : specs_) {
    if (!spec.per_model) continue;
    if (const auto value = lookup(name, &source, slice, input_name, t)) {
      values[name] = *value;
    } else if (spec.default_value) {
      values[name] = *spec.default_value;
    } else if (spec.required && enforce_required) {
      fail(source.line, source.label + ": parameter '" + name + "' is required by " + method_->name() +
                            " but has no value for tensor '" + input_name + "'; set it under " +
                            source.label.substr(0, source.label.find(' ')) + ".parameters or the top-level parameters");
    }
  }
  return values;
}

// The method's own refusals (MergeMethod::validate) on the tensor's inputs as the executor will pass them, without
// their data.
void Planner::validate_method(const PlannedTensor& tensor, const Slice& slice) const {
  MethodInputs inputs;
  inputs.tensor_name = tensor.name;
  if (tensor.base) inputs.base = at::Tensor();
  inputs.models.resize(tensor.models.size());
  for (const auto& input : tensor.models) inputs.model_names.push_back(models_[input.model].reference.name);
  inputs.model_parameters = tensor.model_parameters;
  inputs.base_parameters = tensor.base_parameters;
  inputs.parameters = tensor.parameters;
  inputs.working_dtype = tensor.working_dtype;
  try {
    method_->validate(inputs);
  } catch (const Error& e) {
    fail(slice.line > 0 ? slice.line : config_.merge_method_line, e.what());
  }
}

void Planner::add_tensor(const std::string& output_name, const Slice& slice,
                         const std::vector<std::string>& input_names, double t, std::int64_t output_layer) {
  PlannedTensor tensor;
  tensor.name = output_name;
  tensor.output_layer = output_layer;

  std::vector<const io::TensorEntry*> entries;
  for (std::size_t i = 0; i < slice.sources.size(); ++i) {
    const SliceSource& source = slice.sources[i];
    if (!reader(source.model).contains(input_names[i])) {
      fail(source.line, source.label + ": tensor '" + input_names[i] + "' is missing (needed for output tensor '" +
                            output_name + "')");
    }
    entries.push_back(&reader(source.model).entry(input_names[i]));
  }

  const auto floating_count = std::count_if(entries.begin(), entries.end(),
                                            [](const io::TensorEntry* entry) { return is_floating(entry->dtype); });
  const bool floating = floating_count == static_cast<std::ptrdiff_t>(entries.size());
  if (floating_count != 0 && !floating) {
    fail(slice.line, "tensor '" + output_name + "' is floating-point in some models and not in others (" +
                         io::dtype_name(entries.front()->dtype) + " in " + slice.sources.front().label + ")");
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!io::to_scalar_type(entries[i]->dtype)) {
      fail(slice.sources[i].line, slice.sources[i].label + ": tensor '" + input_names[i] + "' has dtype " +
                                      io::dtype_name(entries[i]->dtype) + ", which libtorch cannot hold");
    }
  }
  std::vector<std::int64_t> shape = entries.front()->shape;
  std::int64_t fewest_rows = shape.empty() ? 0 : shape.front();
  bool rows_differ = false;
  for (std::size_t i = 1; i < entries.size(); ++i) {
    const auto& other = entries[i]->shape;
    const bool same_trailing = other.size() == shape.size() && !shape.empty() &&
                               std::equal(other.begin() + 1, other.end(), shape.begin() + 1);
    if (other == shape) continue;
    if (same_trailing && is_vocabulary_tensor(output_name) && floating) {
      rows_differ = true;
      fewest_rows = std::min(fewest_rows, other.front());
      continue;
    }
    fail(slice.sources[i].line, "tensor '" + output_name + "': shape " + shape_text(other) + " in " +
                                    slice.sources[i].label + " but " + shape_text(shape) + " in " +
                                    slice.sources.front().label + "; merged models must share their shapes");
  }
  // With a tokenizer setting, every vocabulary matrix is rearranged into the output vocabulary's rows.
  const bool remapped = plan_.vocabulary && floating && shape.size() == 2 && is_vocabulary_tensor(output_name);
  if (remapped) {
    shape.front() = plan_.vocabulary->rows;
  } else if (rows_differ) {
    if (config_.tokenizer) {
      fail(config_.tokenizer->line, config_.tokenizer->key + ": tensor '" + output_name + "' has rows per token "
                                    "but is not a matrix, so it cannot be remapped to the output vocabulary");
    }
    tensor.vocabulary_rows = fewest_rows;
    shape.front() = fewest_rows;
  }

  std::uint64_t numel = 1;
  for (const auto size : shape) numel *= static_cast<std::uint64_t>(size);
  tensor.shape = shape;
  if (!floating) {
    // Nothing to merge: keep the first input's tensor as it is stored.
    tensor.copy = true;
    tensor.models.push_back({slice.sources.front().model, input_names.front()});
    tensor.working_dtype = tensor.out_dtype = *io::to_scalar_type(entries.front()->dtype);
    tensor.input_bytes = tensor.output_bytes = entries.front()->nbytes();
    plan_.tensors.push_back(std::move(tensor));
    return;
  }

  std::vector<const SliceSource*> model_sources;
  std::vector<std::string> model_names;
  const SliceSource* base_source = nullptr;
  std::string base_name;
  for (std::size_t i = 0; i < slice.sources.size(); ++i) {
    const SliceSource& source = slice.sources[i];
    const PlannedInput input{source.model, input_names[i]};
    if (slice.base && source.model == *slice.base) {
      tensor.base = input;
      base_source = &source;
      base_name = input_names[i];
    } else {
      tensor.models.push_back(input);
      model_sources.push_back(&source);
      model_names.push_back(input_names[i]);
    }
  }
  for (const auto& input : tensor.all_inputs()) {
    const io::TensorEntry& entry = reader(input.model).entry(input.tensor);
    tensor.input_bytes += remapped ? entry.nbytes() : numel * io::dtype_size(entry.dtype);
  }
  if (remapped) add_vocabulary_remap(tensor);
  const io::TensorEntry& stored = tensor.base ? reader(tensor.base->model).entry(tensor.base->tensor)
                                              : reader(tensor.models.front().model).entry(tensor.models.front().tensor);
  const bool any_double = std::any_of(entries.begin(), entries.end(),
                                      [](const io::TensorEntry* entry) { return entry->dtype == io::Dtype::F64; });
  tensor.working_dtype = config_.dtype.value_or(any_double ? c10::kDouble : c10::kFloat);
  tensor.out_dtype = config_.out_dtype ? *config_.out_dtype
                     : config_.dtype   ? *config_.dtype
                                       : *io::to_scalar_type(stored.dtype);
  tensor.output_bytes = numel * c10::elementSize(tensor.out_dtype);
  resolve_parameters(tensor, slice, model_sources, model_names, t);
  if (base_source) tensor.base_parameters = resolve_model_parameters(*base_source, slice, base_name, t, false);
  tensor.needs_global_magnitude_thresholds = method_->needs_global_magnitude_thresholds(tensor.parameters);
  if (method_->needs_model_fishers(tensor.parameters)) add_fishers(tensor, model_sources, model_names);
  validate_method(tensor, slice);
  plan_.tensors.push_back(std::move(tensor));
}

void Planner::add_fishers(PlannedTensor& tensor, const std::vector<const SliceSource*>& sources,
                          const std::vector<std::string>& input_names) {
  if (tensor.base) {
    fail(config_.merge_method_line, "merge_method " + method_->name() + " uses no base model, but " +
                                        model_name(tensor.base->model) + " is the base model: remove base_model and "
                                        "list the model under models with its fisher");
  }
  if (tensor.vocabulary_remap) {
    fail(config_.tokenizer->line, config_.tokenizer->key + ": merge_method " + method_->name() + " reads Fisher "
                                  "information row by row as stored, which a remapped vocabulary would not match; "
                                  "remove the tokenizer setting");
  }
  if (!method_with_fishers_) method_with_fishers_ = std::make_shared<MethodWithFishers>(*method_);
  std::vector<PlannedFisher> fishers;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const SliceSource& source = *sources[i];
    const std::string key = source.label.substr(0, source.label.find(' ')) + ".fisher";
    if (source.fisher == nullptr || !*source.fisher) {
      fail(source.line, source.label + ": merge_method " + method_->name() + " needs the model's diagonal Fisher "
                                       "information: set " + key + " to a safetensors file of it, tensors named as "
                                       "the model's (the trainer writes fisher.safetensors with fisher.enabled)");
    }
    const ModelReference& file = **source.fisher;
    std::size_t index = 0;
    try {
      index = method_with_fishers_->open_file(file);
    } catch (const Error& e) {
      fail(file.line, key + " '" + file.name + "': cannot be opened: " + e.what());
    }
    const io::CheckpointReader& reader = method_with_fishers_->file(index);
    const std::string& name = input_names[i];
    if (!reader.contains(name)) {
      fail(file.line, key + " '" + file.name + "': no Fisher tensor '" + name + "' for " + source.label +
                          " (needed for output tensor '" + tensor.name + "'); every merged tensor needs its Fisher "
                          "(a training run writes the Fishers of its trainable parameters only)");
    }
    const io::TensorEntry& entry = reader.entry(name);
    const std::vector<std::int64_t>& shape = this->reader(source.model).entry(name).shape;
    if (entry.shape != shape) {
      fail(file.line, key + " '" + file.name + "': Fisher tensor '" + name + "' has shape " + shape_text(entry.shape) +
                          " but the model's tensor has " + shape_text(shape));
    }
    if (!is_floating(entry.dtype)) {
      fail(file.line, key + " '" + file.name + "': Fisher tensor '" + name + "' has dtype " +
                          io::dtype_name(entry.dtype) + "; expected a floating-point type");
    }
    tensor.input_bytes += entry.nbytes();
    fishers.push_back({index, name});
  }
  method_with_fishers_->add_tensor(tensor.name, std::move(fishers), tensor.vocabulary_rows);
}

void Planner::add_vocabulary_remap(PlannedTensor& tensor) const {
  std::vector<std::size_t> input_models;
  std::vector<std::int64_t> input_rows;
  for (const auto& input : tensor.all_inputs()) {
    input_models.push_back(input.model);
    input_rows.push_back(reader(input.model).entry(input.tensor).shape.front());
  }
  const std::optional<std::size_t> base_input = tensor.base ? std::optional<std::size_t>(0) : std::nullopt;
  tensor.vocabulary_remap = std::make_shared<const VocabularyRemap>(
      plan_vocabulary_remap(config_, *plan_.vocabulary, models_, input_models, base_input, input_rows,
                            "tensor '" + tensor.name + "'"));
}

void Planner::check_unused_fishers() const {
  if (method_with_fishers_) return;
  for (const auto& slice : slices_) {
    for (const auto& source : slice.sources) {
      if (source.fisher != nullptr && *source.fisher) {
        fail((*source.fisher)->line, source.label.substr(0, source.label.find(' ')) + ".fisher: merge_method " +
                                         method_->name() + " reads no Fisher information; remove the key or use "
                                         "merge_method: fisher");
      }
    }
  }
}

void Planner::add_layers(const Slice& slice) {
  const SliceSource& first = slice.sources.front();
  const std::int64_t count = first.end - first.begin;
  const std::string& output_stack = models_[plan_.reference_model].layer_stack;
  PlannedSlice summary{plan_.output_layers, count, {}};
  for (const auto& source : slice.sources) summary.sources.push_back({source.model, source.begin, source.end});
  plan_.slices.push_back(summary);
  for (std::int64_t offset = 0; offset < count; ++offset) {
    const double t = count > 1 ? static_cast<double>(offset) / static_cast<double>(count - 1) : 1.0;
    const std::int64_t output_layer = plan_.output_layers + offset;
    for (const auto& suffix : models_[first.model].layers.at(first.begin + offset)) {
      std::vector<std::string> input_names;
      for (const auto& source : slice.sources) {
        input_names.push_back(layer_tensor_name(models_[source.model].layer_stack, source.begin + offset, suffix));
      }
      add_tensor(layer_tensor_name(output_stack, output_layer, suffix), slice, input_names, t, output_layer);
    }
  }
  plan_.output_layers += count;
}

void Planner::plan_outputs() {
  const InputModel& reference = models_[plan_.reference_model];
  // Tensors outside the layer stack take a gradient's first value (embeddings, t = 0) or its last layer's value
  // (final norm, lm_head, t = 1), as mergekit up to v0.1.0 did; mergekit's later planner takes t = 0 for both.
  auto add_other = [&](bool pre) {
    const Slice& slice = pre ? slices_.front() : slices_.back();
    for (const auto& name : reference.other_tensors) {
      if (is_pre_layer_tensor(name) != pre) continue;
      add_tensor(name, slice, std::vector<std::string>(slice.sources.size(), name), pre ? 0.0 : 1.0, -1);
    }
  };
  add_other(true);
  for (const auto& slice : slices_) add_layers(slice);
  add_other(false);
}

MergePlan Planner::plan() {
  models_.require_open();
  try {
    method_ = &find_merge_method(config_.merge_method);
  } catch (const Error& e) {
    fail(config_.merge_method_line, std::string("merge_method: ") + e.what());
  }
  plan_.method = method_;
  plan_.warnings = config_.warnings;
  check_parameter_names();
  normalize_slices();
  for (const auto& slice : slices_) check_slice(slice);
  plan_.reference_model =
      config_.base_model ? models_.index_of(*config_.base_model) : slices_.front().sources.front().model;
  if (config_.tokenizer) plan_.vocabulary = build_output_vocabulary(config_, models_, merged_models(), plan_.reference_model);
  plan_outputs();
  check_unused_fishers();
  if (method_with_fishers_) {
    plan_.method = method_with_fishers_.get();
    plan_.method_owner = std::move(method_with_fishers_);
  }

  const InputModel& reference = models_[plan_.reference_model];
  if (reference.reader->config()) {
    nlohmann::json output_config = *reference.reader->config();
    for (const char* key : {"num_hidden_layers", "n_layer", "num_layers"}) {
      if (output_config.contains(key) && output_config[key].is_number_integer()) {
        output_config[key] = plan_.output_layers;
        break;
      }
    }
    if (config_.out_dtype || config_.dtype) {
      output_config["torch_dtype"] = merge_dtype_name(config_.out_dtype ? *config_.out_dtype : *config_.dtype);
    }
    for (const auto& tensor : plan_.tensors) {
      if (tensor.vocabulary_rows && output_config.contains("vocab_size") &&
          output_config["vocab_size"].is_number_integer() && output_config["vocab_size"] != *tensor.vocabulary_rows) {
        output_config["vocab_size"] = *tensor.vocabulary_rows;
      }
    }
    // merge.py's _update_config_vocab: the output vocabulary's size, padded.
    if (plan_.vocabulary) output_config["vocab_size"] = plan_.vocabulary->rows;
    plan_.output_config = std::move(output_config);
  } else {
    plan_.warnings.push_back("model '" + reference.reference.name +
                             "' has no config.json, so the output will have none either");
  }

  plan_tokenizer();
  return std::move(plan_);
}

void Planner::plan_tokenizer() {
  if (plan_.vocabulary) {
    plan_.tokenizer_required = true;
    plan_.tokenizer_folder = plan_.vocabulary->tokenizer_folder;
  } else {
    plan_.tokenizer_folder = models_[plan_.reference_model].folder();
  }
  std::vector<std::filesystem::path> folders;
  for (const auto index : merged_models()) {
    if (const auto folder = models_[index].folder()) folders.push_back(*folder);
  }
  plan_.chat_template = choose_chat_template(config_, folders, plan_.tokenizer_folder);
}

std::vector<std::size_t> Planner::merged_models() const {
  std::vector<std::size_t> merged;
  for (const auto& model : config_.referenced_models()) merged.push_back(models_.index_of(model));
  return merged;
}

std::string describe_values(const std::vector<double>& values) {
  if (values.empty()) return "";
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  std::ostringstream text;
  text << *low;
  if (*high != *low) text << " to " << *high;
  return text.str();
}

}  // namespace

std::vector<PlannedInput> PlannedTensor::all_inputs() const {
  std::vector<PlannedInput> inputs;
  if (base) inputs.push_back(*base);
  inputs.insert(inputs.end(), models.begin(), models.end());
  return inputs;
}

std::uint64_t MergePlan::output_bytes() const {
  std::uint64_t total = 0;
  for (const auto& tensor : tensors) total += tensor.output_bytes;
  return total;
}

std::uint64_t MergePlan::input_bytes() const {
  std::uint64_t total = 0;
  for (const auto& tensor : tensors) total += tensor.input_bytes;
  return total;
}

bool MergePlan::needs_global_magnitude_thresholds() const {
  return std::any_of(tensors.begin(), tensors.end(),
                     [](const PlannedTensor& tensor) { return tensor.needs_global_magnitude_thresholds; });
}

std::string MergePlan::summary(const InputModels& models) const {
  std::ostringstream text;
  text << "method: " << method->name() << "\n";
  text << "models:\n";
  for (std::size_t i = 0; i < models.size(); ++i) {
    const InputModel& model = models[i];
    text << "  " << model.reference.name << " (" << model.reference.path.string() << "): " << model.layer_count
         << " layers, " << format_bytes(static_cast<double>(model.reader->tensor_bytes()))
         << (i == reference_model ? ", reference for names and config.json" : "") << "\n";
  }
  text << "layers: " << output_layers << "\n";
  for (const auto& slice : slices) {
    text << "  output layers " << slice.first_output_layer << "-" << slice.first_output_layer + slice.layer_count - 1
         << " from";
    for (std::size_t i = 0; i < slice.sources.size(); ++i) {
      const auto& source = slice.sources[i];
      text << (i ? "," : "") << " " << models[source.model].reference.name << " [" << source.begin << ", "
           << source.end << ")";
    }
    text << "\n";
  }
  std::map<std::string, std::vector<double>> method_values;
  std::map<std::pair<std::string, std::string>, std::vector<double>> model_values;
  for (const auto& tensor : tensors) {
    for (const auto& [name, value] : tensor.parameters) method_values[name].push_back(value);
    for (std::size_t i = 0; i < tensor.models.size(); ++i) {
      for (const auto& [name, value] : tensor.model_parameters[i]) {
        model_values[{models[tensor.models[i].model].reference.name, name}].push_back(value);
      }
    }
  }
  if (!method_values.empty() || !model_values.empty()) text << "parameters (range over tensors):\n";
  for (const auto& [name, values] : method_values) text << "  " << name << ": " << describe_values(values) << "\n";
  for (const auto& [key, values] : model_values) {
    text << "  " << key.second << " of " << key.first << ": " << describe_values(values) << "\n";
  }
  for (const auto& tensor : tensors) {
    if (tensor.vocabulary_rows) {
      text << "vocabulary: " << tensor.name << " keeps the first " << *tensor.vocabulary_rows
           << " rows of every model (vocabulary sizes differ)\n";
    }
  }
  std::map<c10::ScalarType, std::size_t> out_dtypes;
  for (const auto& tensor : tensors) ++out_dtypes[tensor.out_dtype];
  text << "output: " << tensors.size() << " tensors, " << format_bytes(static_cast<double>(output_bytes())) << " (";
  bool first = true;
  for (const auto& [dtype, count] : out_dtypes) {
    text << (first ? "" : ", ") << count << " " << merge_dtype_name(dtype);
    first = false;
  }
  text << "); reads " << format_bytes(static_cast<double>(input_bytes())) << "\n";
  if (tokenizer_folder) text << "tokenizer: from " << tokenizer_folder->string() << "\n";
  if (vocabulary) {
    text << "vocabulary: " << vocabulary->tokens.size() << " tokens (" << vocabulary->added.size() << " added, "
         << vocabulary->dropped.size() << " dropped), " << vocabulary->rows
         << " rows; every vocabulary matrix remapped token by token\n";
  }
  if (chat_template) text << "chat template: written into tokenizer_config.json\n";
  for (const auto& warning : warnings) text << "warning: " << warning << "\n";
  return text.str();
}

MergePlan plan_merge(const MergeConfig& config, const InputModels& models) { return Planner(config, models).plan(); }

}  // namespace ladle::merge
