// The merged tensor of one tensor's inputs as tests/tools/merge_methods_reference.py computes it: numpy, float64,
// from the papers' equations, with no ladle code. For the SVD and consensus methods' tests.
#pragma once

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include <string>

#include "lib/merge/merge_method.h"

namespace ladle::testing {

// `inputs.base` and `inputs.models` (fp32) go to a temporary safetensors file; `parameters` are the method-wide
// parameters plus "weights" (one per model) when not all 1. Returns the reference's merged tensor (fp64); a test
// failure is recorded (and an undefined tensor returned) when the script fails.
at::Tensor reference_merge(const std::string& method, const merge::MethodInputs& inputs,
                           const nlohmann::json& parameters);

// max |actual − expected| over the update (minus the base) ≤ tolerance · max |expected update|: the relative
// agreement of two merges, measured where the methods act.
void expect_same_update(const at::Tensor& actual, const at::Tensor& expected, const at::Tensor& base,
                        double tolerance = 1e-5);

}  // namespace ladle::testing
