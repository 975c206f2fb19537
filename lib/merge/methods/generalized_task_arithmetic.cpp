#include "lib/merge/methods/generalized_task_arithmetic.h"

#include <ATen/ATen.h>

#include <cmath>
#include <numeric>

#include "lib/merge/methods/method_support.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

// mergekit replaces a near-zero Σ wᵢ by 1 when normalizing without consensus.
constexpr double kSmallWeightSum = 1e-8;

bool is_random(const std::optional<Sparsification>& method) {
  return method == Sparsification::kRandom || method == Sparsification::kDellaMagprune;
}

}  // namespace

std::vector<TaskArithmeticVariant> task_arithmetic_variants() {
  // Defaults as the GeneralizedTaskArithmeticMerge entries of mergekit's registry.py.
  return {
      {"task_arithmetic", std::nullopt, false, false, false},
      {"ties", Sparsification::kMagnitude, true, true, false},
      {"dare_linear", Sparsification::kRandom, false, false, true},
      {"dare_ties", Sparsification::kRandom, true, false, true},
      {"breadcrumbs", Sparsification::kMagnitudeOutliers, false, false, false},
      {"breadcrumbs_ties", Sparsification::kMagnitudeOutliers, true, false, false},
      {"della", Sparsification::kDellaMagprune, true, true, true},
      {"della_linear", Sparsification::kDellaMagprune, false, false, true},
  };
}

std::vector<at::Tensor> sign_consensus_masks(const std::vector<at::Tensor>& weighted) {
  at::Tensor total = weighted.front().clone();
  for (std::size_t i = 1; i < weighted.size(); ++i) total.add_(weighted[i]);
  const at::Tensor positive = total >= 0;
  std::vector<at::Tensor> masks;
  masks.reserve(weighted.size());
  for (const at::Tensor& delta : weighted) {
    masks.push_back(at::where(positive, delta > 0, delta < 0));
  }
  return masks;
}

std::vector<ParameterSpec> GeneralizedTaskArithmeticMerge::parameters() const {
  std::vector<ParameterSpec> specs = {
      {"int8_mask", false, false, 0.0},
      {"normalize", false, false, variant_.default_normalize ? 1.0 : 0.0},
      {"rescale", false, false, variant_.default_rescale ? 1.0 : 0.0},
      {"lambda", false, false, 1.0},
      {"weight", true, true, std::nullopt},
      {"density", true, false, 1.0},
  };
  if (is_random(variant_.sparsification)) {
    // Our addition: 1 divides kept entries by their keep probability (the DARE and DELLA papers, and mergekit
    // before it switched `rescale` to L1-norm matching); 0 matches the L1 norm as mergekit does today, the default
    // so that configs written for mergekit give mergekit's numbers.
    specs.push_back({"rescale_by_probability", false, false, 0.0});
  }
  if (variant_.sparsification == Sparsification::kMagnitude) specs.push_back({"global_trim", false, false, 0.0});
  if (variant_.sparsification == Sparsification::kMagnitudeOutliers) specs.push_back({"gamma", true, false, 0.01});
  if (variant_.sparsification == Sparsification::kDellaMagprune) specs.push_back({"epsilon", true, false, 0.15});
  return specs;
}

bool GeneralizedTaskArithmeticMerge::needs_global_magnitude_thresholds(
    const std::map<std::string, double>& parameters) const {
  if (variant_.sparsification != Sparsification::kMagnitude) return false;
  const auto global_trim = parameters.find("global_trim");
  return global_trim != parameters.end() && global_trim->second != 0.0;
}

Rescale GeneralizedTaskArithmeticMerge::rescale_mode(const MethodInputs& inputs,
                                                     const std::vector<ParameterSpec>& specs) const {
  if (!method_flag(name(), specs, inputs, "rescale")) return Rescale::kNone;
  if (is_random(variant_.sparsification) && method_flag(name(), specs, inputs, "rescale_by_probability")) {
    return Rescale::kInverseProbability;
  }
  return Rescale::kMatchL1;
}

std::vector<at::Tensor> GeneralizedTaskArithmeticMerge::sparsified_task_vectors(
    const MethodInputs& inputs, const std::vector<ParameterSpec>& specs) const {
  std::vector<at::Tensor> vectors = task_vectors(inputs);
  if (!variant_.sparsification) return vectors;
  const Rescale rescale = rescale_mode(inputs, specs);

  if (needs_global_magnitude_thresholds(inputs.parameters)) {
    const auto& thresholds = inputs.global_magnitude_thresholds;
    if (!thresholds || thresholds->size() != vectors.size()) {
      fail(name(), inputs, "global_trim needs one whole-model magnitude threshold per input model from the executor");
    }
    for (std::size_t i = 0; i < vectors.size(); ++i) {
      vectors[i] = apply_mask(vectors[i], magnitude_threshold_mask(vectors[i], (*thresholds)[i]), rescale, {});
    }
    return vectors;
  }

  const std::vector<double> densities = model_parameters(name(), specs, inputs, "density");
  std::vector<double> gammas(vectors.size(), 0.0);
  std::vector<double> epsilons(vectors.size(), 0.0);
  if (variant_.sparsification == Sparsification::kMagnitudeOutliers) {
    gammas = model_parameters(name(), specs, inputs, "gamma");
  }
  if (variant_.sparsification == Sparsification::kDellaMagprune) {
    epsilons = model_parameters(name(), specs, inputs, "epsilon");
  }
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    const bool della_checked = variant_.sparsification == Sparsification::kDellaMagprune && densities[i] > 0.0 &&
                               densities[i] < 1.0;
    if (della_checked && !(densities[i] - epsilons[i] > 0.0 && densities[i] + epsilons[i] < 1.0)) {
      // mergekit raises the same condition ("density +/- epsilon is in (0, 1)").
      fail(name(), inputs, model_label(inputs, i) + ": density ± epsilon must lie in (0, 1), got density " +
                               std::to_string(densities[i]) + " and epsilon " + std::to_string(epsilons[i]));
    }
    SparsifyOptions options;
    options.density = densities[i];
    options.gamma = gammas[i];
    options.epsilon = epsilons[i];
    options.rescale = rescale;
    options.seed = model_seed(inputs.seed, i);
    vectors[i] = sparsify(vectors[i], *variant_.sparsification, options);
  }
  return vectors;
}

at::Tensor GeneralizedTaskArithmeticMerge::merge(const MethodInputs& inputs) const {
  check_inputs(name(), inputs, {0, 0}, /*base_required=*/true);
  const at::Tensor base = working_base(inputs);
  if (inputs.models.empty()) return base;
  const std::vector<ParameterSpec> specs = parameters();
  const std::vector<double> weights = model_parameters(name(), specs, inputs, "weight");
  const std::vector<at::Tensor> vectors = sparsified_task_vectors(inputs, specs);

  at::Tensor mixed;
  at::Tensor divisor;
  if (variant_.sign_consensus) {
    std::vector<at::Tensor> weighted;
    weighted.reserve(vectors.size());
    for (std::size_t i = 0; i < vectors.size(); ++i) weighted.push_back(vectors[i] * weights[i]);
    const std::vector<at::Tensor> agree = sign_consensus_masks(weighted);
    mixed = at::zeros_like(base);
    divisor = at::zeros_like(base);
    for (std::size_t i = 0; i < weighted.size(); ++i) {
      mixed.add_(weighted[i].masked_fill(agree[i].logical_not(), 0));
      divisor.add_(agree[i].to(base.scalar_type()), weights[i]);
    }
    divisor.masked_fill_(divisor == 0, 1);
  } else {
    mixed = weighted_sum(vectors, weights).to(base.scalar_type());
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    divisor = at::scalar_tensor(std::abs(total) < kSmallWeightSum ? 1.0 : total, base.options());
  }
  if (method_flag(name(), specs, inputs, "normalize")) mixed = mixed / divisor;
  const double lambda = method_parameter(name(), specs, inputs, "lambda");
  if (lambda != 1.0) mixed = mixed * lambda;
  return base + mixed;
}

}  // namespace ladle::merge
