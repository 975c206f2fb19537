#include "lib/merge/methods/generalized_task_arithmetic.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>

#include "lib/merge/methods/fused_operand.h"
#include "lib/merge/methods/method_support.h"
#include "lib/merge/methods/working_arithmetic.h"

namespace ladle::merge {
namespace {

// mergekit replaces a near-zero Σ wᵢ by 1 when normalizing without consensus.
constexpr double kSmallWeightSum = 1e-8;

bool is_random(const std::optional<Sparsification>& method) {
  return method == Sparsification::kRandom || method == Sparsification::kDellaMagprune;
}

// The method-wide numbers of the combination step.
struct Combination {
  std::vector<double> weights;  // wᵢ
  bool sign_consensus = false;
  bool normalize = false;
  double lambda = 1.0;
};

// τ = model − base over `count` entries, rounded to the working dtype as difference(...).to(working dtype) is.
template <typename T>
LADLE_MERGE_KERNEL void subtract_block(const T* __restrict model, const T* __restrict base, T* __restrict tau,
                                       std::int64_t count) {
  for (std::int64_t j = 0; j < count; ++j) tau[j] = WorkingArithmetic<T>::subtract(model[j], base[j]);
}

template <typename T>
TaskVectorSource task_vector_source(Operand model, Operand base) {
  return [model, base](std::int64_t begin, std::int64_t end, void* out) {
    T model_entries[kMagnitudeBlock];
    T base_entries[kMagnitudeBlock];
    const std::int64_t count = end - begin;
    subtract_block(working_entries(model, begin, count, model_entries),
                   working_entries(base, begin, count, base_entries), static_cast<T*>(out), count);
  };
}

// The merged entries of one block from the models' τ̂ᵢ (`deltas`, one row of kMagnitudeBlock entries per model,
// overwritten): the tensor expressions of merge() in the header's formula, each operation rounded as ATen rounds
// it (see working_arithmetic.h). Written without branches so that the loops vectorise.
template <typename T>
LADLE_MERGE_KERNEL void combine_block(const Combination& combination, const T* __restrict base,
                                      T* __restrict deltas, T* __restrict mixed, T* __restrict divisor,
                                      typename WorkingArithmetic<T>::Wide* __restrict sum, T* __restrict out,
                                      std::int64_t count) {
  using Arithmetic = WorkingArithmetic<T>;
  using Wide = typename Arithmetic::Wide;
  const std::size_t models = combination.weights.size();
  const T zero = Arithmetic::scalar(0.0);
  if (combination.sign_consensus) {
    // δᵢ = τ̂ᵢ·wᵢ; s = sign(Σ δᵢ) with 0 → +; Δ = Σ δᵢ·[sign δᵢ = s]; divisor = Σ wᵢ·[sign δᵢ = s], 0 → 1.
    for (std::size_t i = 0; i < models; ++i) {
      T* __restrict delta = deltas + i * kMagnitudeBlock;
      const T weight = Arithmetic::scalar(combination.weights[i]);
      for (std::int64_t j = 0; j < count; ++j) delta[j] = Arithmetic::multiply(delta[j], weight);
    }
    T* __restrict total = out;  // Σ δᵢ, held in the output until the last step overwrites it
    for (std::int64_t j = 0; j < count; ++j) total[j] = deltas[j];
    for (std::size_t i = 1; i < models; ++i) {
      const T* __restrict delta = deltas + i * kMagnitudeBlock;
      for (std::int64_t j = 0; j < count; ++j) total[j] = Arithmetic::add(total[j], delta[j]);
    }
    for (std::int64_t j = 0; j < count; ++j) {
      mixed[j] = zero;
      divisor[j] = zero;
    }
    for (std::size_t i = 0; i < models; ++i) {
      const T* __restrict delta = deltas + i * kMagnitudeBlock;
      const Wide weight = Arithmetic::widen(Arithmetic::scalar(combination.weights[i]));
      for (std::int64_t j = 0; j < count; ++j) {
        const Wide value = Arithmetic::widen(delta[j]);
        const bool positive = Arithmetic::widen(total[j]) >= 0;
        const bool agree = (positive & (value > 0)) | (!positive & (value < 0));
        mixed[j] = Arithmetic::add(mixed[j], Arithmetic::select(agree, delta[j], zero));
        // divisor.add_(agree, wᵢ): the product is exact, so fused or not it is one rounding of the sum.
        divisor[j] = Arithmetic::narrow(Arithmetic::widen(divisor[j]) + weight * (agree ? Wide{1} : Wide{0}));
      }
    }
    const T one = Arithmetic::scalar(1.0);
    for (std::int64_t j = 0; j < count; ++j) {
      divisor[j] = Arithmetic::select(Arithmetic::widen(divisor[j]) == 0, one, divisor[j]);
    }
  } else {
    // Σ wᵢ·τ̂ᵢ accumulated as weighted_sum does: the first term scaled, the others added with a fused alpha.
    for (std::int64_t j = 0; j < count; ++j) sum[j] = Arithmetic::widen(deltas[j]);
    if (combination.weights[0] != 1.0) {
      const Wide weight = static_cast<Wide>(combination.weights[0]);
      for (std::int64_t j = 0; j < count; ++j) sum[j] = sum[j] * weight;
    }
    for (std::size_t i = 1; i < models; ++i) {
      const T* __restrict delta = deltas + i * kMagnitudeBlock;
      const Wide weight = static_cast<Wide>(combination.weights[i]);
      for (std::int64_t j = 0; j < count; ++j) {
        sum[j] = Arithmetic::fused_multiply_add(Arithmetic::widen(delta[j]), weight, sum[j]);
      }
    }
    // Σ wᵢ as a 0-d tensor of the working dtype, with mergekit's guard against a zero sum.
    const double weight_sum = std::accumulate(combination.weights.begin(), combination.weights.end(), 0.0);
    const T weight_divisor = Arithmetic::scalar(std::abs(weight_sum) < kSmallWeightSum ? 1.0 : weight_sum);
    for (std::int64_t j = 0; j < count; ++j) {
      mixed[j] = Arithmetic::narrow(sum[j]);
      divisor[j] = weight_divisor;
    }
  }
  if (combination.normalize) {
    for (std::int64_t j = 0; j < count; ++j) mixed[j] = Arithmetic::divide(mixed[j], divisor[j]);
  }
  if (combination.lambda != 1.0) {
    const T lambda = Arithmetic::scalar(combination.lambda);
    for (std::int64_t j = 0; j < count; ++j) mixed[j] = Arithmetic::multiply(mixed[j], lambda);
  }
  for (std::int64_t j = 0; j < count; ++j) out[j] = Arithmetic::add(base[j], mixed[j]);
}

// The merged entries of blocks [first, last).
template <typename T>
void combine_blocks(const Combination& combination, const Operand& base, const std::vector<Operand>& models,
                    const std::vector<ResolvedSparsification>& sparsifications, T* out, std::int64_t n,
                    std::int64_t first, std::int64_t last) {
  std::vector<T> deltas(models.size() * kMagnitudeBlock);
  std::vector<T> base_scratch(kMagnitudeBlock);
  std::vector<T> model_scratch(kMagnitudeBlock);
  std::vector<T> mixed(kMagnitudeBlock);
  std::vector<T> divisor(kMagnitudeBlock);
  std::vector<typename WorkingArithmetic<T>::Wide> sum(kMagnitudeBlock);
  for (std::int64_t block = first; block < last; ++block) {
    const std::int64_t begin = block * kMagnitudeBlock;
    const std::int64_t count = std::min(n, begin + kMagnitudeBlock) - begin;
    const T* base_entries = working_entries(base, begin, count, base_scratch.data());
    for (std::size_t i = 0; i < models.size(); ++i) {
      T* delta = deltas.data() + i * kMagnitudeBlock;
      subtract_block(working_entries(models[i], begin, count, model_scratch.data()), base_entries, delta, count);
      sparsifications[i].apply(block, delta, count);
    }
    combine_block(combination, base_entries, deltas.data(), mixed.data(), divisor.data(), sum.data(), out + begin,
                  count);
  }
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
      {"density", true, false, 1.0, config::in_closed(0, 1)},  // a fraction of the entries
  };
  if (is_random(variant_.sparsification)) {
    // Our addition: 1 divides kept entries by their keep probability (the DARE and DELLA papers, and mergekit
    // before it switched `rescale` to L1-norm matching); 0 matches the L1 norm as mergekit does today, the default
    // so that configs written for mergekit give mergekit's numbers.
    specs.push_back({"rescale_by_probability", false, false, 0.0});
  }
  if (variant_.sparsification == Sparsification::kMagnitude) specs.push_back({"global_trim", false, false, 0.0});
  if (variant_.sparsification == Sparsification::kMagnitudeOutliers) {
    specs.push_back({"gamma", true, false, 0.01, config::in_closed(0, 1)});  // a fraction of the entries
  }
  if (variant_.sparsification == Sparsification::kDellaMagprune) {
    // Keep probabilities span [density − ε, density + ε], which must lie in (0, 1): ε < 1/2 whatever the density.
    specs.push_back({"epsilon", true, false, 0.15, config::in_closed_open(0, 0.5)});
  }
  return specs;
}

bool GeneralizedTaskArithmeticMerge::needs_global_magnitude_thresholds(
    const std::map<std::string, double>& parameters) const {
  if (variant_.sparsification != Sparsification::kMagnitude) return false;
  const auto global_trim = parameters.find("global_trim");
  return global_trim != parameters.end() && global_trim->second != 0.0;
}

bool GeneralizedTaskArithmeticMerge::elementwise(const std::map<std::string, double>& parameters) const {
  if (!variant_.sparsification) return true;
  const auto rescale = parameters.find("rescale");
  const bool rescaled = rescale == parameters.end() ? variant_.default_rescale : rescale->second != 0.0;
  return needs_global_magnitude_thresholds(parameters) && !rescaled;
}

Rescale GeneralizedTaskArithmeticMerge::rescale_mode(const MethodInputs& inputs,
                                                     const std::vector<ParameterSpec>& specs) const {
  if (!method_flag(name(), specs, inputs, "rescale")) return Rescale::kNone;
  if (is_random(variant_.sparsification) && method_flag(name(), specs, inputs, "rescale_by_probability")) {
    return Rescale::kInverseProbability;
  }
  return Rescale::kMatchL1;
}

std::vector<ResolvedSparsification> GeneralizedTaskArithmeticMerge::resolve_sparsifications(
    const MethodInputs& inputs, const std::vector<ParameterSpec>& specs, const at::Tensor& base,
    const std::vector<at::Tensor>& models) const {
  const at::ScalarType dtype = inputs.working_dtype;
  const std::int64_t n = base.numel();
  std::vector<TaskVectorSource> sources;
  for (const at::Tensor& model : models) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dtype, "task vector source", [&] {
      sources.push_back(task_vector_source<scalar_t>(operand_of(model), operand_of(base)));
    });
  }
  std::vector<ResolvedSparsification> resolved;
  if (!variant_.sparsification) {
    for (std::size_t i = 0; i < models.size(); ++i) resolved.push_back(ResolvedSparsification::keep_all(dtype, n));
    return resolved;
  }
  const Rescale rescale = rescale_mode(inputs, specs);

  if (needs_global_magnitude_thresholds(inputs.parameters)) {
    const auto& thresholds = inputs.global_magnitude_thresholds;
    if (!thresholds || thresholds->size() != models.size()) {
      fail(name(), inputs, "global_trim needs one whole-model magnitude threshold per input model from the executor");
    }
    for (std::size_t i = 0; i < models.size(); ++i) {
      resolved.push_back(ResolvedSparsification::by_threshold((*thresholds)[i], rescale, dtype, n, sources[i]));
    }
    return resolved;
  }

  const std::vector<double> densities = model_parameters(name(), specs, inputs, "density");
  std::vector<double> gammas(models.size(), 0.0);
  std::vector<double> epsilons(models.size(), 0.0);
  if (variant_.sparsification == Sparsification::kMagnitudeOutliers) {
    gammas = model_parameters(name(), specs, inputs, "gamma");
  }
  if (variant_.sparsification == Sparsification::kDellaMagprune) {
    epsilons = model_parameters(name(), specs, inputs, "epsilon");
  }
  std::vector<SparsifyOptions> options(models.size());
  for (std::size_t i = 0; i < models.size(); ++i) {
    options[i].density = densities[i];
    options[i].gamma = gammas[i];
    options[i].epsilon = epsilons[i];
    options[i].rescale = rescale;
    options[i].seed = model_seed(inputs.seed, i);
  }
  return ResolvedSparsification::resolve(*variant_.sparsification, options, dtype, base.sizes(), sources);
}

void GeneralizedTaskArithmeticMerge::validate(const MethodInputs& inputs) const {
  check_input_count(name(), inputs, {0, 0}, /*base_required=*/true);
  if (variant_.sparsification != Sparsification::kDellaMagprune || inputs.models.empty()) return;
  const std::vector<double> densities = model_parameters(name(), parameters(), inputs, "density");
  const std::vector<double> epsilons = model_parameters(name(), parameters(), inputs, "epsilon");
  for (std::size_t i = 0; i < densities.size(); ++i) {
    const bool probabilistic = densities[i] > 0.0 && densities[i] < 1.0;
    if (probabilistic && !(densities[i] - epsilons[i] > 0.0 && densities[i] + epsilons[i] < 1.0)) {
      // mergekit raises the same condition ("density +/- epsilon is in (0, 1)").
      fail(name(), inputs, model_label(inputs, i) + ": density ± epsilon must lie in (0, 1), got density " +
                               config::number_text(densities[i]) + " and epsilon " + config::number_text(epsilons[i]));
    }
  }
}

at::Tensor GeneralizedTaskArithmeticMerge::merge(const MethodInputs& inputs) const {
  validate(inputs);
  check_input_tensors(name(), inputs);
  if (inputs.models.empty()) return working_base(inputs);
  const std::vector<ParameterSpec> specs = parameters();
  Combination combination;
  combination.weights = model_parameters(name(), specs, inputs, "weight");
  combination.sign_consensus = variant_.sign_consensus;
  combination.normalize = method_flag(name(), specs, inputs, "normalize");
  combination.lambda = method_parameter(name(), specs, inputs, "lambda");

  // The fused passes run on the CPU over contiguous entries (in their tensor's shape, for DELLA's rows).
  const at::ScalarType dtype = inputs.working_dtype;
  const at::Tensor base = fused_operand(*inputs.base, dtype);
  std::vector<at::Tensor> models;
  for (const at::Tensor& model : inputs.models) models.push_back(fused_operand(model, dtype));
  const std::vector<ResolvedSparsification> sparsifications = resolve_sparsifications(inputs, specs, base, models);

  at::Tensor merged = at::empty(base.sizes(), at::TensorOptions().dtype(dtype));
  const std::int64_t n = base.numel();
  std::vector<Operand> model_operands;
  for (const at::Tensor& model : models) model_operands.push_back(operand_of(model));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dtype, "task arithmetic merge", [&] {
    at::parallel_for(0, (n + kMagnitudeBlock - 1) / kMagnitudeBlock, 1, [&](std::int64_t first, std::int64_t last) {
      combine_blocks(combination, operand_of(base), model_operands, sparsifications, merged.data_ptr<scalar_t>(), n,
                     first, last);
    });
  });
  return merged.to(inputs.base->device());
}

}  // namespace ladle::merge
