// Exact magnitude selection (radix selection on bit patterns) against a full stable sort, and the fused,
// block-by-block generalized task arithmetic merge against the same merge written as whole-tensor ATen
// expressions (the formula of generalized_task_arithmetic.h, with masks from stable sorts and at::rand).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "lib/merge/methods/generalized_task_arithmetic.h"
#include "lib/merge/methods/magnitude_threshold.h"
#include "lib/merge/methods/method_support.h"
#include "lib/merge/methods/sparsification.h"
#include "lib/merge/methods/working_arithmetic.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

const std::vector<at::ScalarType> kDtypes = {at::kBFloat16, at::kHalf, at::kFloat, at::kDouble};

// Runs `body` with ATen's intra-op thread count set to `threads`, then restores it.
template <typename Body>
void with_threads(int threads, const Body& body) {
  const int previous = at::get_num_threads();
  at::set_num_threads(threads);
  try {
    body();
  } catch (...) {
    at::set_num_threads(previous);
    throw;
  }
  at::set_num_threads(previous);
}

// The reference: the first `count` of a stable descending sort by |x| (lower_index_first), or the last `count` of a
// stable ascending sort.
at::Tensor stable_sort_top(const at::Tensor& values, std::int64_t count, bool lower_index_first) {
  const at::Tensor magnitudes = values.abs().to(at::kDouble).reshape(-1);
  const std::int64_t n = magnitudes.numel();
  at::Tensor mask = at::zeros({n}, at::kBool);
  if (lower_index_first) {
    const at::Tensor order = std::get<1>(at::sort(magnitudes, /*stable=*/true, 0, /*descending=*/true));
    mask.index_fill_(0, order.slice(0, 0, count), true);
  } else {
    const at::Tensor order = std::get<1>(at::sort(magnitudes, /*stable=*/true, 0, /*descending=*/false));
    mask.index_fill_(0, order.slice(0, n - count, n), true);
  }
  return mask.view(values.sizes());
}

// Data with few distinct magnitudes (long runs of equal keys, both signs, zeros of both signs).
at::Tensor heavily_tied(std::int64_t n, at::ScalarType dtype) {
  return ((at::randn({n}) * 1.5).round() * 0.25).to(dtype) * at::where(at::rand({n}) < 0.5, -1.0, 1.0).to(dtype);
}

void expect_selections_match_stable_sort(const at::Tensor& values, const std::string& label) {
  const std::int64_t n = values.numel();
  for (const std::int64_t count : {std::int64_t{0}, std::int64_t{1}, n / 7, n / 2, n - 3, n - 1, n}) {
    for (const bool lower_index_first : {true, false}) {
      EXPECT_TRUE(at::equal(extreme_magnitude_mask(values, count, /*largest=*/true, lower_index_first),
                            stable_sort_top(values, count, lower_index_first)))
          << label << " largest " << count << " lower_index_first " << lower_index_first;
      // The smallest `count` are the complement of the largest n − count with the opposite tie order.
      EXPECT_TRUE(at::equal(extreme_magnitude_mask(values, count, /*largest=*/false, lower_index_first),
                            stable_sort_top(values, n - count, !lower_index_first).logical_not()))
          << label << " smallest " << count << " lower_index_first " << lower_index_first;
    }
  }
}

TEST(MagnitudeSelection, MatchesAStableSortOnRandomDataInEveryDtype) {
  at::manual_seed(21);
  for (const at::ScalarType dtype : kDtypes) {
    // Several blocks with a partial last one; large enough for a counting pass before the collecting one.
    expect_selections_match_stable_sort((at::randn({3 * kMagnitudeBlock + 17}) * 0.02).to(dtype),
                                        c10::toString(dtype));
    expect_selections_match_stable_sort((at::randn({70001}) * 3).to(dtype), c10::toString(dtype));
  }
}

TEST(MagnitudeSelection, MatchesAStableSortOnHeavilyTiedDataInEveryDtype) {
  at::manual_seed(22);
  for (const at::ScalarType dtype : kDtypes) {
    expect_selections_match_stable_sort(heavily_tied(997, dtype), c10::toString(dtype));
    // Runs of equal keys longer than the collection limit: every key bit is found by counting.
    expect_selections_match_stable_sort(heavily_tied(300007, dtype), c10::toString(dtype));
    expect_selections_match_stable_sort(at::zeros({kMagnitudeBlock + 5}, dtype), c10::toString(dtype));
  }
}

// Two magnitudes, half the entries each: a bracket around the middle holds every key, more than a selection may
// collect, so the cut is found by counting key bits (and the tie run at it split per block).
TEST(MagnitudeSelection, MatchesAStableSortWhenTheBracketHoldsTooManyKeys) {
  at::manual_seed(24);
  for (const at::ScalarType dtype : kDtypes) {
    const at::Tensor values = at::where(at::rand({200003}) < 0.5, 0.75, -1.5).to(dtype);
    expect_selections_match_stable_sort(values, c10::toString(dtype));
  }
}

TEST(MagnitudeSelection, NanCountsAsTheLargestMagnitudeAsInASort) {
  at::Tensor values = at::randn({1000});
  values.index_put_({at::arange(0, 1000, 97)}, std::numeric_limits<float>::quiet_NaN());
  values[5] = std::numeric_limits<float>::infinity();
  expect_selections_match_stable_sort(values, "with NaN");
}

TEST(MagnitudeSelection, DoesNotDependOnTheThreadCount) {
  at::manual_seed(23);
  const at::Tensor values = heavily_tied(200003, at::kFloat);
  at::Tensor one_thread;
  with_threads(1, [&] { one_thread = extreme_magnitude_mask(values, 77777, true, true); });
  with_threads(2, [&] { EXPECT_TRUE(at::equal(extreme_magnitude_mask(values, 77777, true, true), one_thread)); });
}

TEST(MagnitudeSelection, FirstKeyAtLeastSplitsKeysByTheirFp32Value) {
  for (const at::ScalarType dtype : kDtypes) {
    for (const float threshold : {0.0f, 1e-30f, 0.3f, 1.0f, 70000.0f, std::numeric_limits<float>::infinity()}) {
      const at::Tensor values = at::tensor({0.0f, 1e-30f, 0.29f, 0.3f, 0.31f, 1.0f, 65504.0f, 70000.0f, 1e30f,
                                            std::numeric_limits<float>::infinity()})
                                    .to(dtype);
      const at::Tensor expected = values.abs().to(at::kFloat) >= threshold;
      const std::uint64_t first = first_key_at_least(dtype, threshold);
      std::vector<std::uint64_t> keys(values.numel());
      magnitude_keys(dtype, values.contiguous().data_ptr(), values.numel(), keys.data());
      for (std::int64_t i = 0; i < values.numel(); ++i) {
        EXPECT_EQ(keys[i] >= first, expected[i].item<bool>()) << c10::toString(dtype) << " " << threshold << " " << i;
      }
    }
  }
}

// The fused loops' branch-free fp32 -> bf16 rounding against c10::BFloat16's constructor (what ATen rounds with),
// over random bit patterns and the special values: ties to even, carries into the exponent, inf, NaN, subnormals.
TEST(WorkingArithmetic, Bf16NarrowingRoundsAsC10) {
  std::vector<std::uint32_t> patterns = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00001u,
                                         0x7F800001u, 0x00000001u, 0x00008000u, 0x00018000u, 0x3F808000u, 0x3F818000u,
                                         0x7F7FFFFFu, 0x7F7F8000u, 0x3FFFFFFFu, 0x807FFFFFu};
  const at::Tensor random = at::randint(0, std::int64_t{1} << 32, {1 << 20}, at::kLong);
  const auto* draws = random.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < random.numel(); ++i) patterns.push_back(static_cast<std::uint32_t>(draws[i]));
  for (const std::uint32_t pattern : patterns) {
    float value;
    std::memcpy(&value, &pattern, sizeof value);
    ASSERT_EQ(WorkingArithmetic<c10::BFloat16>::narrow(value).x, c10::BFloat16(value).x) << std::hex << pattern;
  }
}

// ---- the fused merge against whole-tensor ATen expressions ----

at::Tensor reference_mask(const at::Tensor& tau, Sparsification method, const SparsifyOptions& options,
                          at::Tensor& probability) {
  const std::int64_t n = tau.numel();
  probability = at::scalar_tensor(options.density, tau.options());
  switch (method) {
    case Sparsification::kMagnitude:
      return stable_sort_top(tau, kept_count(options.density, n), true);
    case Sparsification::kMagnitudeOutliers: {
      // Positions [n_bottom, n − n_top) of the stable ascending order.
      const std::int64_t kept = kept_count(options.density, n);
      std::int64_t n_top = std::clamp<std::int64_t>(static_cast<std::int64_t>(options.gamma * n), 0, n);
      std::int64_t n_bottom = n - kept - n_top;
      if (n_bottom < 0) {
        n_top += n_bottom;
        n_bottom = 0;
      }
      const at::Tensor order =
          std::get<1>(at::sort(tau.abs().to(at::kDouble).reshape(-1), /*stable=*/true, 0, /*descending=*/false));
      at::Tensor mask = at::zeros({n}, at::kBool);
      mask.index_fill_(0, order.slice(0, n_bottom, n - n_top), true);
      return mask.view(tau.sizes());
    }
    case Sparsification::kRandom: {
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
      return bernoulli_mask(options.density, tau.sizes(), generator);
    }
    case Sparsification::kDellaMagprune: {
      probability = della_keep_probabilities(tau, options.density, options.epsilon);
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
      return bernoulli_mask(probability, tau.sizes(), generator);
    }
  }
  return at::Tensor();
}

at::Tensor reference_sparsify(const at::Tensor& tau, Sparsification method, const SparsifyOptions& options) {
  if (options.density >= 1.0) return tau;
  const bool random = method == Sparsification::kRandom || method == Sparsification::kDellaMagprune;
  if (random && options.density <= 0.0) return at::zeros_like(tau);
  at::Tensor probability;
  const at::Tensor mask = reference_mask(tau, method, options, probability);
  const at::Tensor masked = tau.masked_fill(mask.logical_not(), 0);
  switch (options.rescale) {
    case Rescale::kNone:
      return masked;
    case Rescale::kMatchL1: {
      const double before = tau.abs().sum(at::kDouble).item<double>();
      const double after = masked.abs().sum(at::kDouble).item<double>();
      if (before < 1e-7 || after < 1e-7) return masked;
      return masked * (before / after);
    }
    case Rescale::kInverseProbability:
      return at::where(mask, masked / probability.to(tau.scalar_type()), at::zeros({}, tau.options()));
  }
  return masked;
}

struct MergeCase {
  std::string variant;
  std::map<std::string, double> parameters;   // method-wide
  std::map<std::string, double> per_model;    // every model's extras
};

// The merge formula of generalized_task_arithmetic.h as whole-tensor ATen expressions (ladle's merge before it
// was fused).
at::Tensor reference_merge(const TaskArithmeticVariant& variant, const MethodInputs& inputs) {
  const GeneralizedTaskArithmeticMerge method(variant);
  const std::vector<ParameterSpec> specs = method.parameters();
  const at::Tensor base = working_base(inputs);
  const std::vector<double> weights = model_parameters(variant.name, specs, inputs, "weight");
  std::vector<at::Tensor> vectors;
  for (const at::Tensor& model : inputs.models) {
    vectors.push_back(difference(model.to(inputs.working_dtype), base).to(inputs.working_dtype));
  }
  if (variant.sparsification) {
    const std::vector<double> densities = model_parameters(variant.name, specs, inputs, "density");
    const bool random = *variant.sparsification == Sparsification::kRandom ||
                        *variant.sparsification == Sparsification::kDellaMagprune;
    Rescale rescale = Rescale::kNone;
    if (method_flag(variant.name, specs, inputs, "rescale")) {
      rescale = random && method_flag(variant.name, specs, inputs, "rescale_by_probability")
                    ? Rescale::kInverseProbability
                    : Rescale::kMatchL1;
    }
    for (std::size_t i = 0; i < vectors.size(); ++i) {
      SparsifyOptions options;
      options.density = densities[i];
      options.rescale = rescale;
      options.seed = model_seed(inputs.seed, i);
      if (*variant.sparsification == Sparsification::kMagnitudeOutliers) {
        options.gamma = model_parameters(variant.name, specs, inputs, "gamma")[i];
      }
      if (*variant.sparsification == Sparsification::kDellaMagprune) {
        options.epsilon = model_parameters(variant.name, specs, inputs, "epsilon")[i];
      }
      vectors[i] = reference_sparsify(vectors[i], *variant.sparsification, options);
    }
  }
  at::Tensor mixed;
  at::Tensor divisor;
  if (variant.sign_consensus) {
    std::vector<at::Tensor> weighted;
    for (std::size_t i = 0; i < vectors.size(); ++i) weighted.push_back(vectors[i] * weights[i]);
    at::Tensor total = weighted.front().clone();
    for (std::size_t i = 1; i < weighted.size(); ++i) total.add_(weighted[i]);
    const at::Tensor positive = total >= 0;
    mixed = at::zeros_like(base);
    divisor = at::zeros_like(base);
    for (std::size_t i = 0; i < weighted.size(); ++i) {
      const at::Tensor agree = at::where(positive, weighted[i] > 0, weighted[i] < 0);
      mixed.add_(weighted[i].masked_fill(agree.logical_not(), 0));
      divisor.add_(agree.to(base.scalar_type()), weights[i]);
    }
    divisor.masked_fill_(divisor == 0, 1);
  } else {
    mixed = weighted_sum(vectors, weights).to(base.scalar_type());
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    divisor = at::scalar_tensor(std::abs(total) < 1e-8 ? 1.0 : total, base.options());
  }
  if (method_flag(variant.name, specs, inputs, "normalize")) mixed = mixed / divisor;
  const double lambda = method_parameter(variant.name, specs, inputs, "lambda");
  if (lambda != 1.0) mixed = mixed * lambda;
  return base + mixed;
}

MethodInputs merge_inputs(const at::Tensor& base, const std::vector<at::Tensor>& models, at::ScalarType dtype,
                          const MergeCase& merge_case) {
  MethodInputs inputs;
  inputs.tensor_name = "model.layers.0.mlp.up_proj.weight";
  inputs.base = base.to(dtype);
  const std::vector<double> weights = {1.0, 0.7, -0.3, 0.45};
  for (std::size_t i = 0; i < models.size(); ++i) {
    inputs.models.push_back(models[i].to(dtype));
    inputs.model_names.push_back("m" + std::to_string(i));
    std::map<std::string, double> parameters = merge_case.per_model;
    parameters["weight"] = weights[i % weights.size()];
    inputs.model_parameters.push_back(parameters);
  }
  inputs.parameters = merge_case.parameters;
  inputs.working_dtype = dtype;
  inputs.seed = 1234;
  return inputs;
}

TaskArithmeticVariant variant_named(const std::string& name) {
  for (const TaskArithmeticVariant& variant : task_arithmetic_variants()) {
    if (variant.name == name) return variant;
  }
  ADD_FAILURE() << "no variant " << name;
  return task_arithmetic_variants().front();
}

const std::vector<MergeCase> kMergeCases = {
    {"task_arithmetic", {{"lambda", 0.8}}, {}},
    {"task_arithmetic", {{"normalize", 1}}, {}},
    {"ties", {}, {{"density", 0.3}}},
    {"ties", {{"lambda", 1.3}, {"rescale", 1}}, {{"density", 0.55}}},
    {"ties", {{"normalize", 0}}, {{"density", 1.0}}},
    {"dare_linear", {}, {{"density", 0.4}}},
    {"dare_linear", {{"rescale_by_probability", 1}, {"normalize", 1}}, {{"density", 0.6}}},
    {"dare_ties", {}, {{"density", 0.4}}},
    {"dare_ties", {{"rescale", 0}}, {{"density", 0.0}}},
    {"breadcrumbs", {}, {{"density", 0.5}, {"gamma", 0.05}}},
    {"breadcrumbs_ties", {{"normalize", 1}}, {{"density", 0.3}, {"gamma", 0.2}}},
    {"della", {}, {{"density", 0.5}, {"epsilon", 0.2}}},
    {"della_linear", {{"rescale_by_probability", 1}}, {{"density", 0.4}, {"epsilon", 0.1}}},
};

void expect_fused_merge_matches_reference(const at::Tensor& base, const std::vector<at::Tensor>& models,
                                          const std::string& data) {
  for (const at::ScalarType dtype : kDtypes) {
    for (const MergeCase& merge_case : kMergeCases) {
      const TaskArithmeticVariant variant = variant_named(merge_case.variant);
      const MethodInputs inputs = merge_inputs(base, models, dtype, merge_case);
      const at::Tensor expected = reference_merge(variant, inputs);
      const at::Tensor merged = GeneralizedTaskArithmeticMerge(variant).merge(inputs);
      ASSERT_EQ(merged.scalar_type(), expected.scalar_type());
      // Bit for bit (NaN-free data, so equality of values is equality of bits up to the sign of zero, checked too).
      EXPECT_TRUE(at::equal(merged, expected) && at::equal(at::signbit(merged), at::signbit(expected)))
          << data << " " << merge_case.variant << " " << c10::toString(dtype) << " "
          << (merged.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>();
    }
  }
}

TEST(FusedTaskArithmetic, EqualsTheWholeTensorExpressionsOnRandomData) {
  at::manual_seed(31);
  const at::Tensor base = at::randn({37, 301});
  std::vector<at::Tensor> models;
  for (int i = 0; i < 3; ++i) models.push_back(base + 0.01 * at::randn({37, 301}));
  expect_fused_merge_matches_reference(base, models, "random");
}

TEST(FusedTaskArithmetic, EqualsTheWholeTensorExpressionsOnHeavilyTiedData) {
  at::manual_seed(32);
  const at::Tensor base = (at::randn({3, 5000}) * 4).round() / 8;
  std::vector<at::Tensor> models;
  for (int i = 0; i < 4; ++i) models.push_back(base + heavily_tied(15000, at::kFloat).view({3, 5000}));
  expect_fused_merge_matches_reference(base, models, "tied");
}

TEST(FusedTaskArithmetic, EqualsTheWholeTensorExpressionsOnTinyTensors) {
  expect_fused_merge_matches_reference(at::scalar_tensor(1.5), {at::scalar_tensor(2.0), at::scalar_tensor(-1.0)},
                                       "0-d");
  expect_fused_merge_matches_reference(at::tensor({1.0f, 2.0f, 3.0f}),
                                       {at::tensor({1.5f, 2.0f, 2.0f}), at::tensor({0.0f, 2.5f, 3.0f})}, "3 entries");
}

// The executor hands this family its inputs as stored (converts_inputs); the fused passes widen them block by
// block, which must give the bits of converting the whole tensors first (the reference converts with Tensor::to).
TEST(FusedTaskArithmetic, InputsStoredInANarrowerDtypeEqualTheWholeTensorExpressions) {
  at::manual_seed(34);
  const at::Tensor base = at::randn({19, 611});
  std::vector<at::Tensor> models;
  for (int i = 0; i < 3; ++i) models.push_back(base + 0.01 * at::randn({19, 611}));
  const std::vector<std::pair<at::ScalarType, at::ScalarType>> stored_and_working = {
      {at::kBFloat16, at::kFloat}, {at::kHalf, at::kFloat}, {at::kFloat, at::kDouble}, {at::kBFloat16, at::kDouble},
      {at::kFloat, at::kBFloat16}};  // the last one narrows: converted whole, as before
  for (const auto& [stored, working] : stored_and_working) {
    for (const MergeCase& merge_case : kMergeCases) {
      const TaskArithmeticVariant variant = variant_named(merge_case.variant);
      MethodInputs inputs = merge_inputs(base, models, stored, merge_case);
      inputs.models.back() = inputs.models.back().to(working);  // inputs of mixed dtypes as well
      inputs.working_dtype = working;
      const at::Tensor expected = reference_merge(variant, inputs);
      const at::Tensor merged = GeneralizedTaskArithmeticMerge(variant).merge(inputs);
      ASSERT_EQ(merged.scalar_type(), working);
      EXPECT_TRUE(at::equal(merged, expected) && at::equal(at::signbit(merged), at::signbit(expected)))
          << merge_case.variant << " stored " << c10::toString(stored) << " working " << c10::toString(working);
    }
  }
}

TEST(FusedTaskArithmetic, DoesNotDependOnTheThreadCount) {
  at::manual_seed(33);
  const at::Tensor base = at::randn({64, 1000});
  std::vector<at::Tensor> models;
  for (int i = 0; i < 3; ++i) models.push_back(base + heavily_tied(64000, at::kFloat).view({64, 1000}));
  for (const MergeCase& merge_case : kMergeCases) {
    const GeneralizedTaskArithmeticMerge method(variant_named(merge_case.variant));
    const MethodInputs inputs = merge_inputs(base, models, at::kFloat, merge_case);
    at::Tensor one_thread;
    with_threads(1, [&] { one_thread = method.merge(inputs); });
    with_threads(2, [&] { EXPECT_TRUE(at::equal(method.merge(inputs), one_thread)) << merge_case.variant; });
  }
}

}  // namespace
}  // namespace ladle::merge
