#include "lib/merge/methods/consensus.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "lib/merge/methods/method_support.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

TaskArithmeticVariant multi_task_variant(bool ties) {
  const std::string name = ties ? "ties" : "task_arithmetic";
  for (TaskArithmeticVariant& variant : task_arithmetic_variants()) {
    if (variant.name == name) return variant;
  }
  throw Error("consensus: no task arithmetic variant named '" + name + "'");
}

}  // namespace

at::Tensor tall_mask(const at::Tensor& task_vector, const at::Tensor& multi_task_vector, double lambda) {
  return task_vector.abs() >= (multi_task_vector - task_vector).abs() * lambda;
}

ConsensusMerge::ConsensusMerge(bool ties) : ties_(ties), multi_task_(multi_task_variant(ties)) {}

std::string ConsensusMerge::name() const { return ties_ ? "consensus_ties" : "consensus_ta"; }

std::vector<ParameterSpec> ConsensusMerge::parameters() const {
  std::vector<ParameterSpec> specs = multi_task_.parameters();
  for (ParameterSpec& spec : specs) {
    if (spec.name == "weight") {
      spec.required = false;
      spec.default_value = 1.0;
    }
    if (ties_ && spec.name == "density") spec.default_value = 0.2;
    if (ties_ && spec.name == "normalize") spec.default_value = 0.0;
  }
  specs.push_back({"k", false, false, 2.0, config::at_least(0)});
  specs.push_back({"tall_mask_lambda", false, false, 0.6, config::at_least(0)});
  return specs;
}

bool ConsensusMerge::needs_global_magnitude_thresholds(const std::map<std::string, double>& parameters) const {
  return multi_task_.needs_global_magnitude_thresholds(parameters);
}

void ConsensusMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 0}, /*base_required=*/true);
  const double k = method_parameter(name(), parameters(), inputs, "k");
  if (k != std::floor(k)) fail(name(), inputs, "k must be a whole number of models, got " + config::number_text(k));
  if (k > static_cast<double>(inputs.models.size())) {
    fail(name(), inputs, "k = " + config::number_text(k) + " exceeds the number of models besides the base (" +
                             std::to_string(inputs.models.size()) + "): no entry could be kept");
  }
}

MethodInputs ConsensusMerge::multi_task_inputs(const MethodInputs& inputs) const {
  const std::vector<ParameterSpec> specs = parameters();
  MethodInputs multi_task = inputs;
  multi_task.models = task_vectors(inputs);
  multi_task.base = at::zeros_like(multi_task.models.front());
  multi_task.parameters.clear();
  multi_task.model_parameters.assign(inputs.models.size(), {});
  for (const ParameterSpec& spec : multi_task_.parameters()) {
    if (!spec.per_model) {
      multi_task.parameters[spec.name] = method_parameter(name(), specs, inputs, spec.name);
      continue;
    }
    const std::vector<double> values = model_parameters(name(), specs, inputs, spec.name);
    for (std::size_t i = 0; i < values.size(); ++i) multi_task.model_parameters[i][spec.name] = values[i];
  }
  multi_task.parameters["lambda"] = 1.0;
  return multi_task;
}

at::Tensor ConsensusMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty()) return base;
  const std::vector<ParameterSpec> specs = parameters();
  const double k = method_parameter(name(), specs, inputs, "k");
  const double mask_lambda = method_parameter(name(), specs, inputs, "tall_mask_lambda");
  const double lambda = method_parameter(name(), specs, inputs, "lambda");

  const MethodInputs multi_task = multi_task_inputs(inputs);
  const at::Tensor merged = multi_task_vector(multi_task);
  at::Tensor votes = at::zeros(base.sizes(), base.options().dtype(at::kInt));
  for (const at::Tensor& task : multi_task.models) votes.add_(tall_mask(task, merged, mask_lambda));
  const at::Tensor kept = at::where(votes >= static_cast<std::int64_t>(k), merged, at::zeros_like(merged));
  return base + kept * lambda;
}

std::vector<ParameterSpec> TallMaskMerge::parameters() const {
  std::vector<ParameterSpec> specs = ConsensusMerge::parameters();
  specs.erase(std::remove_if(specs.begin(), specs.end(), [](const ParameterSpec& spec) { return spec.name == "k"; }),
              specs.end());
  specs.push_back({"task", false, true, std::nullopt, config::at_least(1)});
  return specs;
}

void TallMaskMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {1, 0}, /*base_required=*/true);
  const double task = method_parameter(name(), parameters(), inputs, "task");
  if (task != std::floor(task) || task > static_cast<double>(inputs.models.size())) {
    fail(name(), inputs, "task must be the number of one of the " + std::to_string(inputs.models.size()) +
                             " models besides the base (1 for the first), got " + config::number_text(task));
  }
}

at::Tensor TallMaskMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  const std::vector<ParameterSpec> specs = parameters();
  const auto task = static_cast<std::size_t>(method_parameter(name(), specs, inputs, "task")) - 1;
  const double mask_lambda = method_parameter(name(), specs, inputs, "tall_mask_lambda");
  const double lambda = method_parameter(name(), specs, inputs, "lambda");
  const MethodInputs multi_task = multi_task_inputs(inputs);
  const at::Tensor merged = multi_task_vector(multi_task);
  const at::Tensor kept = at::where(tall_mask(multi_task.models[task], merged, mask_lambda), merged,
                                    at::zeros_like(merged));
  return working_base(inputs) + kept * lambda;
}

}  // namespace ladle::merge
