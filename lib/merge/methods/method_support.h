// Helpers every merge method shares: reading resolved parameters (falling back to the declared default), checking
// one tensor's inputs, casting them to the working dtype, task vectors, and errors that name the method, the
// tensor and the model.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/merge/merge_method.h"

namespace ladle::merge {

// How many inputs a method accepts besides the base.
struct InputArity {
  std::size_t min_models = 1;  // fewest entries in MethodInputs::models
  std::size_t max_models = 0;  // most entries; 0 means no limit
};

// A ladle::Error with "<method>: tensor '<name>': <message>".
[[noreturn]] void fail(const std::string& method, const MethodInputs& inputs, const std::string& message);

// The label of models[index] for messages: its model_names entry, or "model <index>" when there is none.
std::string model_label(const MethodInputs& inputs, std::size_t index);

// The method-wide parameter `name`: the resolved value, else the spec's default; throws naming the parameter when
// it is neither given nor defaulted (the planner normally fills every default before a method runs).
double method_parameter(const std::string& method, const std::vector<ParameterSpec>& specs,
                        const MethodInputs& inputs, const std::string& name);
// The per-model parameter `name` of every input model, in order, with the same fallback.
std::vector<double> model_parameters(const std::string& method, const std::vector<ParameterSpec>& specs,
                                     const MethodInputs& inputs, const std::string& name);
// A parameter read as a boolean (mergekit's YAML booleans arrive as 0 or 1); any non-zero value is true.
bool method_flag(const std::string& method, const std::vector<ParameterSpec>& specs, const MethodInputs& inputs,
                 const std::string& name);

// Checks the model count against `arity` and the base's presence when `base_required` (reads no tensor: a
// method's validate).
void check_input_count(const std::string& method, const MethodInputs& inputs, InputArity arity, bool base_required);
// Checks that every tensor is defined, floating-point and has the shape of the first one (the base's shape when
// there is a base): what merge() checks after validate.
void check_input_tensors(const std::string& method, const MethodInputs& inputs);

// The input models' tensors converted to inputs.working_dtype (aliases when already in it).
std::vector<at::Tensor> working_models(const MethodInputs& inputs);
// The base converted to inputs.working_dtype; call after check_input_count with base_required.
at::Tensor working_base(const MethodInputs& inputs);
// τᵢ = θᵢ − θ₀ for every input model, in inputs.working_dtype.
std::vector<at::Tensor> task_vectors(const MethodInputs& inputs);
// The base (when there is one) followed by the input models, in inputs.working_dtype: the input list of methods
// that, like mergekit's linear and karcher, treat a base model as one more input.
std::vector<at::Tensor> base_and_models(const MethodInputs& inputs);

// The seed of model `model_index`'s random mask for this tensor: inputs.seed (already derived from the run's seed
// and the tensor name) mixed with the index, so every model draws an independent mask and the same seed always
// draws the same one.
std::uint64_t model_seed(std::uint64_t seed, std::size_t model_index);

}  // namespace ladle::merge
