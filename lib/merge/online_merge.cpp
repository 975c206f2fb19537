#include "lib/merge/online_merge.h"

#include <ATen/ATen.h>

#include <cmath>

#include "lib/merge/methods/generalized_task_arithmetic.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

// The engine's member of the task arithmetic family that an operator runs (online_merge.h says which and why).
const GeneralizedTaskArithmeticMerge& engine_method(OnlineMergeOperator op) {
  static const auto variant = [](const char* name) {
    for (const TaskArithmeticVariant& variant : task_arithmetic_variants()) {
      if (variant.name == name) return variant;
    }
    throw Error(std::string("online merge: the merge engine has no method '") + name + "'");
  };
  static const GeneralizedTaskArithmeticMerge ondare(variant("dare_linear"));
  static const GeneralizedTaskArithmeticMerge onties(variant("ties"));
  return op == OnlineMergeOperator::ondare ? ondare : onties;
}

}  // namespace

const char* online_merge_operator_name(OnlineMergeOperator op) {
  return op == OnlineMergeOperator::ondare ? "ondare" : "onties";
}

OnlineMergeOperator online_merge_operator_from_name(const std::string& name) {
  if (name == "ondare") return OnlineMergeOperator::ondare;
  if (name == "onties") return OnlineMergeOperator::onties;
  throw Error("online merge: unknown operator '" + name + "' (expected ondare or onties)");
}

void validate(const OnlineMergeOptions& options) {
  if (!(options.density > 0.0 && options.density <= 1.0)) {
    throw Error("online merge: density must be in (0, 1], got " + std::to_string(options.density));
  }
  for (const auto& [name, value] : {std::pair<const char*, double>{"update_weight", options.update_weight},
                                    {"reference_weight", options.reference_weight}}) {
    if (!std::isfinite(value) || value < 0.0) {
      throw Error(std::string("online merge: ") + name + " must be a finite number ≥ 0, got " +
                  std::to_string(value));
    }
  }
}

at::Tensor merge_update(const at::Tensor& update, const at::Tensor& reference, const OnlineMergeOptions& options,
                        std::uint64_t seed) {
  MethodInputs inputs;
  inputs.tensor_name = "online merge";
  // Over a zero base the engine's task vectors are Δ and τ_ref themselves (x − 0 = x exactly) and its result is
  // 0 + λ·M = M with λ = 1.
  inputs.base = at::zeros(update.sizes(), update.options());
  inputs.models = {update, reference};
  inputs.model_names = {"update", "reference"};
  inputs.model_parameters = {{{"weight", options.update_weight}, {"density", options.density}},
                             {{"weight", options.reference_weight}, {"density", options.density}}};
  inputs.parameters = {{"normalize", 0.0}, {"lambda", 1.0}};
  if (options.op == OnlineMergeOperator::ondare) {
    // DARE's own rescale, 1/p (the paper's eq. 2), not mergekit's default L1-norm matching.
    inputs.parameters["rescale"] = 1.0;
    inputs.parameters["rescale_by_probability"] = 1.0;
  }
  inputs.working_dtype = at::kFloat;
  inputs.seed = seed;
  return engine_method(options.op).merge(inputs);
}

}  // namespace ladle::merge
