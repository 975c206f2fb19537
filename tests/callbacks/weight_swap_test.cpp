// ScopedWeightSwap: the average goes in (rounded to the live dtype), the live weights come back bit for bit.
#include "callbacks/weight_swap.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "callbacks/swa_average.h"
#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

struct LayerWithBufferImpl : torch::nn::Module {
  LayerWithBufferImpl()
      : fc(register_module("fc", torch::nn::Linear(4, 3))), running(register_buffer("running", at::zeros({3}))) {}
  torch::nn::Linear fc;
  at::Tensor running;
};
TORCH_MODULE(LayerWithBuffer);

TEST(ScopedWeightSwap, SwapsTheAverageInAndRestoresTheLiveWeightsExactly) {
  at::manual_seed(2);
  LayerWithBuffer model;
  model->to(at::kBFloat16);
  FlatParameters live(*model);
  SwaOptions options;
  options.buffers = BufferMode::average;
  SwaAverage swa(live, module_buffers(*model), options);
  at::NoGradGuard no_grad;
  for (int k = 0; k < 3; ++k) {
    live.groups()[0].values.copy_(at::randn({15}));
    model->running.copy_(at::randn({3}));
    swa.update(k + 1);
  }
  const at::Tensor live_values = live.groups()[0].values.clone();
  const at::Tensor live_running = model->running.clone();
  {
    ScopedWeightSwap swap(live, swa);
    EXPECT_TRUE(at::equal(model->fc->bias, swa.averaged_weights().at("fc.bias")));
    EXPECT_TRUE(at::equal(live.groups()[0].values, swa.averaged_flat_values()[0].to(at::kBFloat16)));
    EXPECT_TRUE(at::equal(model->running, swa.averaged_buffers().at("running").to(at::kBFloat16)));
  }
  EXPECT_TRUE(at::equal(live.groups()[0].values, live_values));
  EXPECT_TRUE(at::equal(model->running, live_running));
  EXPECT_TRUE(live.parameters_bound());
}

TEST(ScopedWeightSwap, RefusesAnAverageWithoutUpdatesAndChangesNothing) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  SwaAverage swa(live, {});
  const at::Tensor before = live.groups()[0].values.clone();
  EXPECT_TRUE(contains(error_message([&] { ScopedWeightSwap swap(live, swa); }), "no update has happened yet"));
  EXPECT_TRUE(at::equal(live.groups()[0].values, before));
}

}  // namespace
}  // namespace ladle::callbacks
