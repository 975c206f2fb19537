// One tensor's MethodInputs built in code for merge-method tests: a base plus task vectors.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/merge/merge_method.h"

namespace ladle::testing {

inline constexpr const char* kMethodTestTensor = "model.layers.2.mlp.down_proj.weight";

// Models base + vectors[i], named "task<i>", with no parameters set.
inline merge::MethodInputs task_inputs(const at::Tensor& base, const std::vector<at::Tensor>& vectors) {
  merge::MethodInputs inputs;
  inputs.tensor_name = kMethodTestTensor;
  inputs.base = base;
  for (std::size_t i = 0; i < vectors.size(); ++i) {
    inputs.models.push_back(base + vectors[i]);
    inputs.model_names.push_back("task" + std::to_string(i));
    inputs.model_parameters.push_back({});
  }
  return inputs;
}

// A base of `shape` drawn from N(0, 1) and `count` task vectors from N(0, 0.1²), or, with `rank` > 0 (2-D shapes),
// each the product of N(0, 1) factors [m, rank]·[rank, n] scaled by 0.05, so of rank `rank`.
inline merge::MethodInputs random_task_inputs(const std::vector<std::int64_t>& shape, std::size_t count,
                                              std::uint64_t seed, std::int64_t rank = 0) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor base = at::randn(shape, generator);
  std::vector<at::Tensor> vectors;
  for (std::size_t i = 0; i < count; ++i) {
    if (rank > 0) {
      vectors.push_back(at::matmul(at::randn({shape[0], rank}, generator), at::randn({rank, shape[1]}, generator)) *
                        0.05);
    } else {
      vectors.push_back(at::randn(shape, generator) * 0.1);
    }
  }
  return task_inputs(base, vectors);
}

}  // namespace ladle::testing
