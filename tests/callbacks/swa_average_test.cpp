// SwaAverage (schedule, buffers, exact resume), SwaLrSchedule against SWALR, and update_bn against Python's.
#include "callbacks/swa_average.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "callbacks/swa_lr_schedule.h"
#include "callbacks/update_bn.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

struct LayerWithBufferImpl : torch::nn::Module {
  LayerWithBufferImpl()
      : fc(register_module("fc", torch::nn::Linear(3, 2))), running(register_buffer("running", at::zeros({2}))) {}
  torch::nn::Linear fc;
  at::Tensor running;
};
TORCH_MODULE(LayerWithBuffer);

void set_all(const FlatParameters& live, LayerWithBuffer& model, float value) {
  at::NoGradGuard no_grad;
  live.groups().at(0).values.fill_(value);
  model->running.fill_(value);
}

// Updates at steps 4, 7 and 10 (start 4, every 3) with the live weights equal to the step: their mean is 7.
TEST(SwaAverage, AveragesTheScheduledStepsWithEqualWeights) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  SwaOptions options;
  options.schedule.start_step = 4;
  options.schedule.every = 3;
  SwaAverage swa(live, module_buffers(*model), options);
  std::vector<std::int64_t> updated;
  for (std::int64_t step = 1; step <= 12; ++step) {
    set_all(live, model, static_cast<float>(step));
    if (swa.on_optimizer_step(step)) updated.push_back(step);
  }
  EXPECT_EQ(updated, (std::vector<std::int64_t>{4, 7, 10}));
  EXPECT_EQ(swa.count(), 3);
  EXPECT_TRUE(at::equal(swa.averaged_flat_values()[0], at::full({8}, 7.0f)));
}

TEST(SwaAverage, BuffersAreCopiedByDefaultAndAveragedOnRequest) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  SwaAverage copying(live, module_buffers(*model));
  SwaOptions options;
  options.buffers = BufferMode::average;
  SwaAverage averaging(live, module_buffers(*model), options);
  for (const float value : {1.0f, 2.0f, 6.0f}) {
    set_all(live, model, value);
    copying.update(0);
    averaging.update(0);
  }
  EXPECT_TRUE(at::equal(copying.averaged_buffers().at("running"), at::full({2}, 6.0f)));
  EXPECT_TRUE(at::equal(averaging.averaged_buffers().at("running"), at::full({2}, 3.0f)));
}

TEST(SwaAverage, StateRoundTripContinuesBitIdentically) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  const auto set_step = [&](std::int64_t step) {
    at::NoGradGuard no_grad;
    live.groups().at(0).values.copy_(at::sin(at::arange(8, at::kFloat) * static_cast<double>(step)) * 3.0);
  };
  SwaAverage straight(live, {});
  for (std::int64_t step = 1; step <= 50; ++step) {
    set_step(step);
    straight.update(step);
  }
  auto first = std::make_unique<SwaAverage>(live, NamedTensors{});
  for (std::int64_t step = 1; step <= 25; ++step) {
    set_step(step);
    first->update(step);
  }
  AveragingState saved = first->state();
  for (auto& [name, tensor] : saved.tensors) tensor = tensor.clone();
  saved.info = nlohmann::json::parse(saved.info.dump());
  first.reset();
  SwaAverage resumed(live, {});
  resumed.load_state(saved);
  for (std::int64_t step = 26; step <= 50; ++step) {
    set_step(step);
    resumed.update(step);
  }
  EXPECT_TRUE(at::equal(resumed.averaged_flat_values()[0], straight.averaged_flat_values()[0]));
}

TEST(SwaAverage, LoadStateNamesAMissingTensor) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  SwaAverage swa(live, {});
  AveragingState state;
  state.info = {{"kind", "swa"}, {"updates", 3}, {"last_step", 9}};
  EXPECT_TRUE(contains(error_message([&] { swa.load_state(state); }), "no tensor 'average.fc.weight'"));
}

// lr_k = α·swa_lr + (1 − α)·start_lr with t = k/anneal_steps; cosine α(t) = (1 − cos πt)/2, linear α(t) = t.
TEST(SwaLrSchedule, AnnealsToSwaLrAtGivenSteps) {
  SwaLrOptions options;
  options.swa_lr = 0.01;
  options.anneal_steps = 4;
  const SwaLrSchedule cosine(options);
  EXPECT_DOUBLE_EQ(cosine.lr(0, 0.1), 0.1);
  EXPECT_NEAR(cosine.lr(1, 0.1), 0.1 - 0.09 * (1 - std::sqrt(0.5)) / 2, 1e-15);
  EXPECT_NEAR(cosine.lr(2, 0.1), 0.055, 1e-15);
  EXPECT_NEAR(cosine.lr(4, 0.1), 0.01, 1e-15);
  EXPECT_NEAR(cosine.lr(100, 0.1), 0.01, 1e-15);
  options.anneal = SwaAnneal::linear;
  const SwaLrSchedule linear(options);
  EXPECT_NEAR(linear.lr(1, 0.1), 0.0775, 1e-15);
  EXPECT_NEAR(linear.lr(3, 0.1), 0.0325, 1e-15);
}

TEST(SwaLrSchedule, ZeroAnnealStepsGiveSwaLrAtOnce) {
  SwaLrOptions options;
  options.swa_lr = 0.02;
  options.anneal_steps = 0;
  EXPECT_DOUBLE_EQ(SwaLrSchedule(options).lr(0, 0.5), 0.02);
}

// SWALR's learning rates by strategy name ("cos", "linear"), from the Python reference.
std::map<std::string, std::vector<double>> swalr_reference(double start_lr, double swa_lr, int anneal, int steps) {
  const auto result = ladle::testing::run_command(
      ladle::testing::python_program(),
      {std::string(LADLE_SOURCE_DIR) + "/tests/tools/averaging_swalr_reference.py", std::to_string(start_lr),
       std::to_string(swa_lr), std::to_string(anneal), std::to_string(steps)});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::map<std::string, std::vector<double>> lrs;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string strategy;
    fields >> strategy;
    for (double lr; fields >> lr;) lrs[strategy].push_back(lr);
  }
  return lrs;
}

TEST(SwaLrSchedule, MatchesTorchSwalrForCosineAndLinear) {
  const auto expected = swalr_reference(0.25, 0.0625, 5, 8);
  for (const std::string strategy : {"cos", "linear"}) {
    ASSERT_EQ(expected.count(strategy), 1u) << strategy;
    ASSERT_EQ(expected.at(strategy).size(), 9u) << strategy;
    SwaLrOptions options;
    options.swa_lr = 0.0625;
    options.anneal_steps = 5;
    options.anneal = strategy == "cos" ? SwaAnneal::cosine : SwaAnneal::linear;
    const SwaLrSchedule schedule(options);
    for (std::size_t k = 0; k < 9; ++k) {
      EXPECT_NEAR(schedule.lr(static_cast<std::int64_t>(k), 0.25), expected.at(strategy)[k], 1e-15)
          << strategy << " step " << k;
    }
  }
}

struct BatchNormNetImpl : torch::nn::Module {
  BatchNormNetImpl()
      : fc1(register_module("fc1", torch::nn::Linear(4, 6))),
        bn1(register_module("bn1", torch::nn::BatchNorm1d(6))),
        fc2(register_module("fc2", torch::nn::Linear(6, 3))),
        bn2(register_module("bn2", torch::nn::BatchNorm1d(torch::nn::BatchNormOptions(3).momentum(0.3)))) {}
  at::Tensor forward(const at::Tensor& x) { return bn2(fc2(at::relu(bn1(fc1(x))))); }
  torch::nn::Linear fc1;
  torch::nn::BatchNorm1d bn1;
  torch::nn::Linear fc2;
  torch::nn::BatchNorm1d bn2;
};
TORCH_MODULE(BatchNormNet);

// The weights, stale statistics and batches of tests/tools/averaging_update_bn_reference.py.
BatchNormNet reference_net() {
  BatchNormNet net;
  at::NoGradGuard no_grad;
  std::int64_t offset = 0;
  for (auto& parameter : net->parameters()) {
    const at::Tensor i = at::arange(offset, offset + parameter.numel(), at::kLong);
    parameter.copy_((((i * 37 + 11) % 101) - 50).to(at::kFloat).view(parameter.sizes()) / 50.0);
    offset += parameter.numel();
  }
  for (auto* bn : {&net->bn1, &net->bn2}) {
    (*bn)->running_mean.fill_(5.0);
    (*bn)->running_var.fill_(7.0);
    (*bn)->num_batches_tracked.fill_(9);
  }
  net->eval();
  return net;
}

std::vector<at::Tensor> reference_batches(int count, int rows) {
  std::vector<at::Tensor> batches;
  for (int b = 0; b < count; ++b) {
    const at::Tensor r = at::arange(rows, at::kLong).view({-1, 1});
    const at::Tensor c = at::arange(4, at::kLong).view({1, -1});
    batches.push_back((((r * 17 + c * 29 + b * 131) % 97) - 48).to(at::kFloat) / 24.0);
  }
  return batches;
}

TEST(UpdateBn, MatchesTorchUpdateBn) {
  constexpr int kBatches = 5, kRows = 8;
  const std::string dir = ladle::testing::make_temp_dir("update-bn");
  const auto result = ladle::testing::run_command(
      ladle::testing::python_program(),
      {std::string(LADLE_SOURCE_DIR) + "/tests/tools/averaging_update_bn_reference.py", dir, std::to_string(kBatches),
       std::to_string(kRows)});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  at::Tensor expected = at::empty({18}, at::kFloat);
  std::ifstream(dir + "/update_bn.f32", std::ios::binary)
      .read(reinterpret_cast<char*>(expected.data_ptr<float>()), 18 * sizeof(float));

  BatchNormNet net = reference_net();
  const std::size_t updated =
      update_bn(*net, reference_batches(kBatches, kRows), [&](const at::Tensor& batch) { net->forward(batch); });
  EXPECT_EQ(updated, 2u);
  const at::Tensor actual = at::cat({net->bn1->running_mean, net->bn1->running_var, net->bn2->running_mean,
                                     net->bn2->running_var});
  EXPECT_LE((actual - expected).abs().max().item<double>(), 1e-6);
  EXPECT_EQ(result.out, "5 5 0.1 0.3 False\n");  // Python's counters, momenta and mode afterwards: ours below
  EXPECT_EQ(net->bn1->num_batches_tracked.item<std::int64_t>(), kBatches);
  EXPECT_EQ(net->bn2->num_batches_tracked.item<std::int64_t>(), kBatches);
  EXPECT_EQ(net->bn1->options.momentum(), c10::optional<double>(0.1));
  EXPECT_EQ(net->bn2->options.momentum(), c10::optional<double>(0.3));
  EXPECT_FALSE(net->is_training());
  std::filesystem::remove_all(dir);
}

TEST(UpdateBn, WithoutBatchNormDoesNothing) {
  LayerWithBuffer model;
  bool called = false;
  EXPECT_EQ(update_bn(*model, [&] { called = true; }), 0u);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace ladle::callbacks
