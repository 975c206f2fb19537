// The registry of merge methods by mergekit name, and behaviour every registered method shares.
#include "lib/merge/merge_method_registry.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "lib/util/error.h"

namespace ladle::merge {
namespace {

const std::vector<std::string> kExpectedNames = {
    "arcee_fusion", "breadcrumbs", "breadcrumbs_ties", "consensus_ta", "consensus_ties", "dare_linear",
    "dare_ties",    "della",       "della_linear",     "fisher",       "iso_c",          "iso_cts",
    "karcher",      "linear",      "model_stock",      "multislerp",   "nearswap",       "nuslerp",
    "passthrough",  "ram",         "ramplus_tl",       "sce",          "slerp",          "tall_mask",
    "task_arithmetic", "ties",     "tsv_m"};

// Inputs every method accepts: a base when the method can use one, as many models as it takes, and a value for
// every parameter it declares without a default (weight 1, t 0.5), plus density 0.5 to exercise sparsification.
MethodInputs generic_inputs(const MergeMethod& method, const at::Tensor& base, const at::Tensor& model_a,
                            const at::Tensor& model_b) {
  const std::string name = method.name();
  MethodInputs inputs;
  inputs.tensor_name = "model.layers.0.input_layernorm.weight";
  std::size_t models = 2;
  if (name == "slerp" || name == "nearswap" || name == "arcee_fusion") models = 1;
  if (name == "passthrough") models = 1;
  const bool with_base = !(name == "passthrough" || name == "fisher" || name == "linear");
  if (with_base) inputs.base = base;
  const std::vector<at::Tensor> candidates = {model_a, model_b};
  for (std::size_t i = 0; i < models; ++i) {
    inputs.models.push_back(candidates[i]);
    inputs.model_names.push_back("m" + std::to_string(i));
    inputs.model_parameters.push_back({});
    inputs.model_fishers.push_back(at::ones_like(candidates[i]));
  }
  for (const ParameterSpec& spec : method.parameters()) {
    if (spec.per_model) {
      for (auto& parameters : inputs.model_parameters) {
        if (spec.name == "weight") parameters["weight"] = 1.0;
        if (spec.name == "density") parameters["density"] = 0.5;
      }
    } else if (spec.name == "t") {
      inputs.parameters["t"] = 0.5;
    } else if (spec.name == "task") {
      inputs.parameters["task"] = 1;
    } else if (spec.name == "normalize_fishers") {
      inputs.parameters["normalize_fishers"] = 0;
    }
  }
  return inputs;
}

TEST(MergeMethodRegistry, RegistersEveryMethodByItsMergekitName) {
  EXPECT_EQ(merge_method_names(), kExpectedNames);
  for (const std::string& name : kExpectedNames) EXPECT_EQ(find_merge_method(name).name(), name);
}

TEST(MergeMethodRegistry, UnknownNameIsAnErrorListingTheKnownOnes) {
  try {
    find_merge_method("tie");
    ADD_FAILURE() << "expected ladle::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'tie'"), std::string::npos) << message;
    EXPECT_NE(message.find("ties"), std::string::npos) << message;
  }
}

TEST(MergeMethodRegistry, ParameterNamesAreUniqueAndRequiredOnesHaveNoDefault) {
  for (const std::string& name : merge_method_names()) {
    std::set<std::string> seen;
    for (const ParameterSpec& spec : find_merge_method(name).parameters()) {
      EXPECT_TRUE(seen.insert(spec.name).second) << name << ": " << spec.name;
      EXPECT_FALSE(spec.required && spec.default_value) << name << ": " << spec.name;
    }
  }
}

TEST(MergeMethodRegistry, MethodsNeedingABaseSayTheyDo) {
  for (const std::string name : {"slerp", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs",
                                 "della", "sce", "model_stock", "nearswap", "arcee_fusion", "ram", "ramplus_tl", "tsv_m",
                                 "iso_c", "iso_cts", "consensus_ta", "consensus_ties", "tall_mask"}) {
    EXPECT_TRUE(find_merge_method(name).requires_base()) << name;
  }
  for (const std::string name : {"linear", "nuslerp", "multislerp", "karcher", "passthrough", "fisher"}) {
    EXPECT_FALSE(find_merge_method(name).requires_base()) << name;
  }
}

TEST(EveryMergeMethod, Bf16InputsGiveTheWorkingDtype) {
  for (const std::string& name : merge_method_names()) {
    const MergeMethod& method = find_merge_method(name);
    const at::Tensor base = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).to(at::kBFloat16);
    const at::Tensor a = at::tensor({1.5f, 2.0f, 2.5f, 5.0f}).to(at::kBFloat16);
    const at::Tensor b = at::tensor({0.5f, 3.0f, 3.5f, 4.5f}).to(at::kBFloat16);
    const at::Tensor merged = method.merge(generic_inputs(method, base, a, b));
    EXPECT_EQ(merged.scalar_type(), at::kFloat) << name;
    EXPECT_TRUE(merged.sizes().equals({4})) << name;
    EXPECT_TRUE(at::isfinite(merged).all().item<bool>()) << name << ": " << merged;
  }
}

// mergekit's `dtype: bfloat16` asks for the math in bf16; fp64 asks for more precision than the default fp32.
TEST(EveryMergeMethod, HonoursABf16OrFp64WorkingDtype) {
  for (const at::ScalarType dtype : {at::kBFloat16, at::kDouble}) {
    for (const std::string& name : merge_method_names()) {
      const MergeMethod& method = find_merge_method(name);
      MethodInputs inputs = generic_inputs(method, at::tensor({1.0f, 2.0f, 3.0f, 4.0f}),
                                           at::tensor({1.5f, 2.0f, 2.5f, 5.0f}), at::tensor({0.5f, 3.0f, 3.5f, 4.5f}));
      inputs.working_dtype = dtype;
      const at::Tensor merged = method.merge(inputs);
      EXPECT_EQ(merged.scalar_type(), dtype) << name;
      EXPECT_TRUE(at::isfinite(merged).all().item<bool>()) << name << ": " << merged;
    }
  }
}

TEST(EveryMergeMethod, OneEntryTensorsDoNotFail) {
  for (const std::string& name : merge_method_names()) {
    const MergeMethod& method = find_merge_method(name);
    const at::Tensor merged =
        method.merge(generic_inputs(method, at::tensor({1.0f}), at::tensor({2.0f}), at::tensor({-1.0f})));
    EXPECT_EQ(merged.numel(), 1) << name;
    EXPECT_TRUE(at::isfinite(merged).all().item<bool>()) << name << ": " << merged;
  }
}

TEST(EveryMergeMethod, EmptyTensorsGiveEmptyResults) {
  for (const std::string& name : merge_method_names()) {
    const MergeMethod& method = find_merge_method(name);
    const at::Tensor empty = at::zeros({0, 8});
    EXPECT_TRUE(method.merge(generic_inputs(method, empty, empty, empty)).sizes().equals({0, 8})) << name;
  }
}

TEST(EveryMergeMethod, ShapeMismatchIsAnErrorNamingTheTensor) {
  for (const std::string& name : merge_method_names()) {
    if (name == "passthrough") continue;  // one input: nothing to mismatch
    const MergeMethod& method = find_merge_method(name);
    MethodInputs inputs = generic_inputs(method, at::zeros({2, 3}), at::zeros({2, 3}), at::zeros({2, 3}));
    inputs.models.back() = at::zeros({3, 2});
    try {
      method.merge(inputs);
      ADD_FAILURE() << name << ": expected ladle::Error";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("model.layers.0.input_layernorm.weight"), std::string::npos)
          << name << ": " << error.what();
    }
  }
}

}  // namespace
}  // namespace ladle::merge
