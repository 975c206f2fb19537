// MergeMethod: the per-tensor math of one merge method, named as in mergekit's `merge_method`.
//
// Planning (which tensors, which inputs, which parameter values for each tensor, after slices, layer gradients
// and filters) lives in the merge plan; streaming (reading inputs, writing shards) lives in the executor. A method
// only sees one output tensor's inputs with every parameter already resolved to a number, so adding a method
// touches its own file and one line in merge_method_registry.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/value_range.h"

namespace ladle::merge {

// A parameter a method declares, as mergekit's ConfigParameterDef: resolved per model (`models[].parameters`,
// e.g. weight, density) or once for the method (top-level `parameters`, e.g. t, lambda, normalize), with the values
// it accepts. The planner checks every value a config writes (each point of a gradient, each filtered entry) before
// any tensor is read; values between two points of a gradient then lie in the range as well.
struct ParameterSpec {
  std::string name;
  bool per_model = false;                 // true: every input model has its own value
  bool required = false;                  // an error names the parameter (and the model) when it is missing
  std::optional<double> default_value;    // used when not required and not given; booleans are 0 or 1
  // Outside it a value is an error naming the model or slice, the parameter and the range (a density of 1.5, a
  // negative epsilon). Unbounded for weights and scale factors, which any real number is (mergekit's too).
  config::ValueRange range = {};
  // An interpolation factor (slerp's t): in [0, 1] it moves between two models; outside, along the same path beyond
  // them, which is extrapolation (ExPO, Zheng et al. 2024, "Weak-to-Strong Extrapolation Expedites Alignment"):
  // allowed, with a warning saying so.
  bool interpolation_factor = false;
};

// One output tensor's inputs, every parameter resolved for this tensor (a layer gradient already interpolated).
struct MethodInputs {
  std::string tensor_name;                             // e.g. "model.layers.3.mlp.up_proj.weight"
  std::optional<at::Tensor> base;                      // the base model's tensor, when the config has a base
  // The other inputs' tensors, in config order, same shape. Like `base`, in working_dtype, or in their stored dtype
  // for a method whose converts_inputs() is true.
  std::vector<at::Tensor> models;
  std::vector<std::string> model_names;                // labels of those inputs, for error messages
  std::vector<std::map<std::string, double>> model_parameters;  // per-model parameters, one map per input
  std::map<std::string, double> parameters;            // method-wide parameters
  at::ScalarType working_dtype = at::kFloat;           // the math runs in this dtype (inputs are cast to it)
  std::uint64_t seed = 0;                              // derived from the run's seed and the tensor name
  // Filled by the executor for methods that trim over the whole model (TIES-paper style): per input model, the
  // magnitude threshold below which a task-vector entry is dropped.
  std::optional<std::vector<double>> global_magnitude_thresholds;
  // The base model's own per-model parameters (e.g. its `weight`), for methods that treat the base as one more
  // input as mergekit does (linear's weight). Resolved like any model's (its models[] entry, else the top-level
  // value, else the default), except that a required parameter may be missing (mergekit's plan.py resolves the
  // base with `required and not is_base`). `models` never holds the base.
  std::map<std::string, double> base_parameters;
  // Filled by the executor for methods whose needs_model_fishers() is true (fisher): per input model, in the order
  // of `models`, its diagonal Fisher information for this tensor (same shape).
  std::vector<at::Tensor> model_fishers;
  // With fisher's normalize_fishers: per input model, the L2 norm of its Fisher over the whole model.
  std::optional<std::vector<double>> model_fisher_norms;
};

class MergeMethod {
 public:
  virtual ~MergeMethod() = default;
  // The mergekit name, e.g. "ties".
  virtual std::string name() const = 0;
  // Every parameter the method reads; the planner rejects unknown ones and fills defaults.
  virtual std::vector<ParameterSpec> parameters() const = 0;
  // True when the method cannot run without a base model (task arithmetic, TIES, DARE, SLERP, ...).
  virtual bool requires_base() const = 0;
  // Throws ladle::Error ("<method>: tensor '<name>': ...", as merge() would) when the method refuses a tensor for a
  // reason its data does not change: the number of models, a missing or unwanted base, resolved parameters it cannot
  // use together (weights that sum to 0 under normalize, density ± epsilon outside (0, 1)). Reads no tensor data:
  // the planner calls it for every planned tensor with undefined tensors (one per input), so `ladle merge check`
  // refuses all that `ladle merge` would before anything is read; merge() calls it first.
  virtual void validate(const MethodInputs& inputs) const = 0;
  // The merged tensor, in inputs.working_dtype; throws ladle::Error naming the tensor on bad inputs.
  virtual at::Tensor merge(const MethodInputs& inputs) const = 0;
  // True when the method needs global_magnitude_thresholds for these method-wide parameters.
  virtual bool needs_global_magnitude_thresholds(const std::map<std::string, double>& /*parameters*/) const {
    return false;
  }
  // True when the method reads MethodInputs::model_fishers (and model_fisher_norms) for these parameters.
  virtual bool needs_model_fishers(const std::map<std::string, double>& /*parameters*/) const { return false; }
  // True when, for these method-wide parameters, each merged entry depends only on the inputs' entries at the same
  // position: the executor may then call merge() on row slices of a large tensor (dim 0) and assemble the result,
  // which must be the same bit for bit. Slices keep temporaries small (and in cache) whatever the tensor's size.
  virtual bool elementwise(const std::map<std::string, double>& /*parameters*/) const { return false; }
  // True when merge() accepts its inputs in their stored floating dtype and converts them to working_dtype itself:
  // the executor then passes the memory-mapped tensors as they are, instead of whole-tensor working-dtype copies
  // (for 4 bf16 inputs merged in fp32, twice their size in memory).
  virtual bool converts_inputs() const { return false; }
};

}  // namespace ladle::merge
