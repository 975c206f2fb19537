#include "lib/merge/methods/method_support.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "lib/util/error.h"
#include "lib/util/shape_text.h"
#include "lib/util/splitmix64.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

const ParameterSpec* find_spec(const std::vector<ParameterSpec>& specs, const std::string& name) {
  const auto found =
      std::find_if(specs.begin(), specs.end(), [&](const ParameterSpec& spec) { return spec.name == name; });
  return found == specs.end() ? nullptr : &*found;
}

void check_tensor(const std::string& method, const MethodInputs& inputs, const at::Tensor& tensor,
                  const std::string& role, const at::Tensor& reference, const std::string& reference_role) {
  if (!tensor.defined()) fail(method, inputs, role + " has no tensor");
  if (!at::isFloatingType(tensor.scalar_type())) {
    fail(method, inputs, role + " has dtype " + c10::toString(tensor.scalar_type()) +
                             ", expected a floating-point dtype");
  }
  if (!tensor.sizes().equals(reference.sizes())) {
    fail(method, inputs, role + " has shape " + shape_text(tensor.sizes()) + ", expected " + shape_text(reference.sizes()) +
                             " (the shape of " + reference_role + ")");
  }
}

}  // namespace

void fail(const std::string& method, const MethodInputs& inputs, const std::string& message) {
  throw Error(method + ": tensor '" + inputs.tensor_name + "': " + message);
}

std::string model_label(const MethodInputs& inputs, std::size_t index) {
  if (index < inputs.model_names.size() && !inputs.model_names[index].empty()) {
    return "model '" + inputs.model_names[index] + "'";
  }
  return "model " + std::to_string(index);
}

double method_parameter(const std::string& method, const std::vector<ParameterSpec>& specs,
                        const MethodInputs& inputs, const std::string& name) {
  const auto given = inputs.parameters.find(name);
  if (given != inputs.parameters.end()) return given->second;
  const ParameterSpec* spec = find_spec(specs, name);
  if (spec != nullptr && spec->default_value) return *spec->default_value;
  fail(method, inputs, "parameter '" + name + "' is required but was not given");
}

std::vector<double> model_parameters(const std::string& method, const std::vector<ParameterSpec>& specs,
                                     const MethodInputs& inputs, const std::string& name) {
  const ParameterSpec* spec = find_spec(specs, name);
  std::vector<double> values;
  values.reserve(inputs.models.size());
  for (std::size_t i = 0; i < inputs.models.size(); ++i) {
    if (i < inputs.model_parameters.size()) {
      const auto given = inputs.model_parameters[i].find(name);
      if (given != inputs.model_parameters[i].end()) {
        values.push_back(given->second);
        continue;
      }
    }
    // A method-wide value applies to every model, as mergekit lets a top-level `parameters` entry stand in for
    // a per-model one.
    const auto shared = inputs.parameters.find(name);
    if (shared != inputs.parameters.end()) {
      values.push_back(shared->second);
    } else if (spec != nullptr && spec->default_value) {
      values.push_back(*spec->default_value);
    } else {
      fail(method, inputs, "parameter '" + name + "' is required for " + model_label(inputs, i) +
                               " but was not given");
    }
  }
  return values;
}

bool method_flag(const std::string& method, const std::vector<ParameterSpec>& specs, const MethodInputs& inputs,
                 const std::string& name) {
  return method_parameter(method, specs, inputs, name) != 0.0;
}

void check_input_count(const std::string& method, const MethodInputs& inputs, InputArity arity, bool base_required) {
  const std::size_t count = inputs.models.size();
  if (base_required && !inputs.base) fail(method, inputs, "needs a base model (set base_model in the config)");
  if (count < arity.min_models || (arity.max_models != 0 && count > arity.max_models)) {
    std::string expected = std::to_string(arity.min_models);
    if (arity.max_models == 0) {
      expected = "at least " + expected;
    } else if (arity.max_models != arity.min_models) {
      expected += " to " + std::to_string(arity.max_models);
    }
    fail(method, inputs, "expected " + expected + " input model(s) besides the base, got " + std::to_string(count));
  }
}

void check_input_tensors(const std::string& method, const MethodInputs& inputs) {
  const std::size_t count = inputs.models.size();
  if (inputs.base) {
    const at::Tensor& base = *inputs.base;
    if (!base.defined()) fail(method, inputs, "the base model has no tensor");
    for (std::size_t i = 0; i < count; ++i) {
      check_tensor(method, inputs, inputs.models[i], model_label(inputs, i), base, "the base model");
    }
    check_tensor(method, inputs, base, "the base model", base, "the base model");
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      check_tensor(method, inputs, inputs.models[i], model_label(inputs, i), inputs.models[0], model_label(inputs, 0));
    }
  }
}

std::vector<at::Tensor> working_models(const MethodInputs& inputs) {
  std::vector<at::Tensor> converted;
  converted.reserve(inputs.models.size());
  for (const at::Tensor& model : inputs.models) converted.push_back(model.to(inputs.working_dtype));
  return converted;
}

at::Tensor working_base(const MethodInputs& inputs) { return inputs.base->to(inputs.working_dtype); }

std::vector<at::Tensor> task_vectors(const MethodInputs& inputs) {
  std::vector<at::Tensor> vectors;
  vectors.reserve(inputs.models.size());
  const at::Tensor base = working_base(inputs);
  for (const at::Tensor& model : inputs.models) {
    vectors.push_back(difference(model.to(inputs.working_dtype), base).to(inputs.working_dtype));
  }
  return vectors;
}

std::vector<at::Tensor> base_and_models(const MethodInputs& inputs) {
  std::vector<at::Tensor> all;
  if (inputs.base) all.push_back(working_base(inputs));
  for (const at::Tensor& model : working_models(inputs)) all.push_back(model);
  return all;
}

std::uint64_t model_seed(std::uint64_t seed, std::size_t model_index) {
  // One splitmix64 step from seed + index·increment: consecutive model indices get unrelated seeds (the bits are
  // those of the generator's (index + 1)-th output from state `seed`).
  return splitmix64(seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(model_index));
}

}  // namespace ladle::merge
