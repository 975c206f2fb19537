// EmaAverage: timm's decay warmup, the update schedule, fp32 averages of bf16 weights, CPU offload, buffers and
// exact resume.
#include "callbacks/ema_average.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "lib/io/safetensors_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

// A linear layer plus a floating-point and an integer buffer, like BatchNorm's running_mean and
// num_batches_tracked.
struct LayerWithBuffersImpl : torch::nn::Module {
  LayerWithBuffersImpl()
      : fc(register_module("fc", torch::nn::Linear(6, 4))),
        running(register_buffer("running", at::zeros({4}))),
        counter(register_buffer("counter", at::zeros({}, at::kLong))) {}
  torch::nn::Linear fc;
  at::Tensor running;
  at::Tensor counter;
};
TORCH_MODULE(LayerWithBuffers);

// Every parameter and the floating buffer set to `value`, the counter to `counter`.
void set_all(const FlatParameters& live, LayerWithBuffers& model, float value, std::int64_t counter = 0) {
  at::NoGradGuard no_grad;
  live.groups().at(0).values.fill_(value);
  model->running.fill_(value);
  model->counter.fill_(counter);
}

// Step k's pseudo-random parameter values (any deterministic sequence will do).
void set_step_values(const FlatParameters& live, LayerWithBuffers& model, std::int64_t k) {
  at::NoGradGuard no_grad;
  const at::Tensor& values = live.groups().at(0).values;
  const at::Tensor i = at::arange(values.numel(), at::kLong);
  values.copy_(((i * 7919 + k * 104729) % 20011 - 10005).to(at::kFloat) / 997.0);
  model->running.copy_(values.narrow(0, 0, 4) * 2);
  model->counter.fill_(k);
}

// The state written to a safetensors file and a JSON file and read back, as a checkpoint would hold it.
AveragingState through_files(const AveragingState& state, const std::string& dir) {
  const std::filesystem::path tensors_path = std::filesystem::path(dir) / "state.safetensors";
  io::write_safetensors(tensors_path, state.tensors);
  { std::ofstream(std::filesystem::path(dir) / "state.json") << state.info.dump(); }
  AveragingState loaded;
  const io::SafetensorsReader reader(tensors_path);
  for (const auto& entry : reader.entries()) loaded.tensors.insert(entry.name, reader.tensor(entry.name).clone());
  std::ifstream info(std::filesystem::path(dir) / "state.json");
  loaded.info = nlohmann::json::parse(info);
  return loaded;
}

TEST(EmaDecay, FirstUpdateCopiesThenDecayIsConstantWithoutWarmup) {
  EmaOptions options;
  options.decay = 0.999;
  EXPECT_EQ(ema_decay(options, 0), 0.0);
  EXPECT_EQ(ema_decay(options, 1), 0.999);
  EXPECT_EQ(ema_decay(options, 100000), 0.999);
}

// d(t) = 1 − (1 + t/γ)^(−p) clamped to [min_decay, decay]; with p = 1, γ = 1 that is t/(t+1).
TEST(EmaDecay, WarmupFollowsTimmFormulaClampedToMinAndMax) {
  EmaOptions options;
  options.warmup = true;
  options.warmup_gamma = 1.0;
  options.warmup_power = 1.0;
  options.decay = 0.8;
  options.min_decay = 0.6;
  EXPECT_EQ(ema_decay(options, 0), 0.0);          // the first update copies
  EXPECT_DOUBLE_EQ(ema_decay(options, 1), 0.6);   // 1/2 clamped up to min_decay
  EXPECT_DOUBLE_EQ(ema_decay(options, 3), 0.75);  // 3/4
  EXPECT_DOUBLE_EQ(ema_decay(options, 9), 0.8);   // 9/10 clamped down to decay
}

TEST(EmaDecay, WarmupWithGammaAndPowerAtGivenUpdates) {
  EmaOptions options;
  options.warmup = true;
  options.decay = 0.9999;
  options.warmup_gamma = 1.0;
  options.warmup_power = 2.0 / 3.0;
  EXPECT_NEAR(ema_decay(options, 999), 0.99, 1e-12);  // 1 − 1000^(−2/3)
  options.warmup_gamma = 10.0;
  options.warmup_power = 1.0;
  EXPECT_DOUBLE_EQ(ema_decay(options, 10), 0.5);  // 1 − (1 + 10/10)^(−1)
  EXPECT_DOUBLE_EQ(ema_decay(options, 30), 0.75);
}

// Updates at steps 3, 5, 7 (start 3, every 2) with the live weights equal to the step: 3 (copied), then
// 0.5·3 + 0.5·5 = 4, then 0.5·4 + 0.5·7 = 5.5.
TEST(EmaAverage, UpdatesEveryNStepsFromStartStepAndFirstUpdateCopies) {
  LayerWithBuffers model;
  FlatParameters live(*model);
  EmaOptions options;
  options.decay = 0.5;
  options.schedule.start_step = 3;
  options.schedule.every = 2;
  EmaAverage ema(live, module_buffers(*model), options);
  std::vector<std::int64_t> updated;
  for (std::int64_t step = 1; step <= 8; ++step) {
    set_all(live, model, static_cast<float>(step));
    if (ema.on_optimizer_step(step)) updated.push_back(step);
    if (step == 3) {
      EXPECT_TRUE(at::equal(ema.averaged_flat_values()[0], at::full({28}, 3.0f)));
    }
  }
  EXPECT_EQ(updated, (std::vector<std::int64_t>{3, 5, 7}));
  EXPECT_EQ(ema.count(), 3);
  EXPECT_TRUE(at::equal(ema.averaged_flat_values()[0], at::full({28}, 5.5f)));
}

TEST(EmaAverage, ReadingBeforeTheFirstUpdateThrows) {
  LayerWithBuffers model;
  FlatParameters live(*model);
  EmaAverage ema(live, {});
  EXPECT_TRUE(contains(error_message([&] { ema.averaged_weights(); }), "no update has happened yet"));
}

TEST(EmaAverage, RejectsDecayOutsideTheUnitInterval) {
  LayerWithBuffers model;
  FlatParameters live(*model);
  EmaOptions options;
  options.decay = 1.5;
  EXPECT_TRUE(contains(error_message([&] { EmaAverage(live, {}, options); }), "decay is 1.5"));
}

// With decay 0.9999 a bf16 average would never leave 1 (1 + 1e-4 rounds back to 1: bf16 spacing at 1 is 2^-7);
// the fp32 average follows avg_k = 2 − 0.9999^k.
TEST(EmaAverage, Bf16LiveWeightsMoveTheFp32Average) {
  LayerWithBuffers model;
  model->to(at::kBFloat16);
  FlatParameters live(*model);
  ASSERT_EQ(live.groups().at(0).dtype, at::kBFloat16);
  EmaOptions options;
  options.decay = 0.9999;
  EmaAverage ema(live, {}, options);
  set_all(live, model, 1.0f);
  ema.update(1);
  set_all(live, model, 2.0f);
  constexpr int kUpdates = 1000;
  for (int k = 0; k < kUpdates; ++k) ema.update(k + 2);

  const at::Tensor average = ema.averaged_flat_values()[0];
  EXPECT_EQ(average.scalar_type(), at::kFloat);
  EXPECT_NEAR(average.min().item<double>(), 2.0 - std::pow(0.9999, kUpdates), 1e-4);
  EXPECT_EQ(ema.averaged_weights().at("fc.weight").scalar_type(), at::kBFloat16);

  at::Tensor bf16_average = at::ones({1}, at::kBFloat16);
  bf16_average = bf16_average * 0.9999 + at::full({1}, 2.0, at::kBFloat16) * (1 - 0.9999);
  EXPECT_EQ(bf16_average.item<float>(), 1.0f);  // the contrast: a bf16 average stays put
}

TEST(EmaAverage, CpuOffloadEqualsOnDeviceAverageBitForBit) {
  LayerWithBuffers model;
  FlatParameters live(*model);
  EmaOptions options;
  options.decay = 0.995;
  options.warmup = true;
  EmaAverage on_device(live, module_buffers(*model), options);
  options.offload_to_cpu = true;
  EmaAverage offloaded(live, module_buffers(*model), options);
  for (std::int64_t step = 1; step <= 300; ++step) {
    set_step_values(live, model, step);
    on_device.on_optimizer_step(step);
    offloaded.on_optimizer_step(step);
  }
  EXPECT_TRUE(at::equal(offloaded.averaged_flat_values()[0], on_device.averaged_flat_values()[0]));
  const NamedTensors offloaded_buffers = offloaded.averaged_buffers();
  for (const auto& [name, buffer] : on_device.averaged_buffers()) {
    EXPECT_TRUE(at::equal(offloaded_buffers.at(name), buffer)) << name;
  }
}

// The background update reads a staging copy taken inside update(), so the next optimizer step may change the
// live weights at once.
TEST(EmaAverage, OffloadedUpdateUsesTheWeightsOfItsOwnStep) {
  LayerWithBuffers model;
  FlatParameters live(*model);
  EmaOptions options;
  options.decay = 0.5;
  options.offload_to_cpu = true;
  EmaAverage ema(live, module_buffers(*model), options);
  set_all(live, model, 2.0f);
  ema.update(1);
  set_all(live, model, 4.0f);
  ema.update(2);
  set_all(live, model, 1000.0f);  // the "next step", while update 2 may still run
  EXPECT_TRUE(at::equal(ema.averaged_flat_values()[0], at::full({28}, 3.0f)));
  EXPECT_TRUE(at::equal(ema.averaged_buffers().at("running"), at::full({4}, 3.0f)));
}

TEST(EmaAverage, FloatBuffersAveragedOrCopiedAndIntegerBuffersCopied) {
  LayerWithBuffers model;
  FlatParameters live(*model);
  EmaOptions options;
  options.decay = 0.5;
  EmaAverage averaging(live, module_buffers(*model), options);
  options.buffers = BufferMode::copy;
  EmaAverage copying(live, module_buffers(*model), options);
  set_all(live, model, 2.0f, 7);
  averaging.update(1);
  copying.update(1);
  set_all(live, model, 6.0f, 8);
  averaging.update(2);
  copying.update(2);
  EXPECT_TRUE(at::equal(averaging.averaged_buffers().at("running"), at::full({4}, 4.0f)));
  EXPECT_TRUE(at::equal(copying.averaged_buffers().at("running"), at::full({4}, 6.0f)));
  EXPECT_EQ(averaging.averaged_buffers().at("counter").item<std::int64_t>(), 8);
  EXPECT_EQ(copying.averaged_weights().at("counter").item<std::int64_t>(), 8);
}

// 2N updates straight equal N updates, a state written to files and loaded into a fresh average, and N more.
TEST(EmaAverage, StateRoundTripContinuesBitIdentically) {
  constexpr std::int64_t kHalf = 40;
  EmaOptions options;
  options.decay = 0.99;
  options.warmup = true;  // the decay depends on the update count, which the state must carry
  options.offload_to_cpu = true;

  LayerWithBuffers model;
  FlatParameters live(*model);
  EmaAverage straight(live, module_buffers(*model), options);
  for (std::int64_t step = 1; step <= 2 * kHalf; ++step) {
    set_step_values(live, model, step);
    straight.on_optimizer_step(step);
  }

  auto first = std::make_unique<EmaAverage>(live, module_buffers(*model), options);
  for (std::int64_t step = 1; step <= kHalf; ++step) {
    set_step_values(live, model, step);
    first->on_optimizer_step(step);
  }
  const std::string dir = ladle::testing::make_temp_dir("ema-state");
  const AveragingState saved = through_files(first->state(), dir);
  first.reset();
  EmaAverage resumed(live, module_buffers(*model), options);
  resumed.load_state(saved);
  EXPECT_EQ(resumed.count(), kHalf);
  for (std::int64_t step = kHalf + 1; step <= 2 * kHalf; ++step) {
    set_step_values(live, model, step);
    resumed.on_optimizer_step(step);
  }
  EXPECT_TRUE(at::equal(resumed.averaged_flat_values()[0], straight.averaged_flat_values()[0]));
  EXPECT_TRUE(at::equal(resumed.averaged_buffers().at("running"), straight.averaged_buffers().at("running")));
  std::filesystem::remove_all(dir);
}

TEST(EmaAverage, LoadStateRejectsAnotherAveragesState) {
  LayerWithBuffers model;
  FlatParameters live(*model);
  EmaAverage ema(live, {});
  AveragingState state;
  state.info = {{"kind", "swa"}, {"updates", 0}, {"last_step", -1}};
  EXPECT_TRUE(contains(error_message([&] { ema.load_state(state); }), "its kind is \"swa\""));
}

}  // namespace
}  // namespace ladle::callbacks
