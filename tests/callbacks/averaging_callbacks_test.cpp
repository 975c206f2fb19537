// EmaCallback, SwaCallback and LawaCallback in tiny training runs: the averages follow the live weights the
// trainer produced, the averaged weights are evaluated and saved without disturbing training, SWA anneals the
// learning rate, and a resumed run is bit-identical.
#include "callbacks/averaging_callbacks.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "lib/io/checkpoint_reader.h"
#include "lib/weights/flat_parameters.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/optimizer.h"
#include "trainer/trainer.h"

namespace ladle::callbacks {
namespace {

using trainer::Event;
using trainer::TrainConfig;
using trainer::TrainState;

// Records the live flat weights and the learning rate of the next step after every optimizer step. An observer:
// it runs after the averaging callbacks, so it sees what they left.
class LiveRecorder : public trainer::Callback {
 public:
  std::string name() const override { return "live_recorder"; }
  trainer::CallbackKind kind() const override { return trainer::CallbackKind::observes; }
  void on_event(Event event, TrainState& state) override {
    if (event == Event::step_end && state.step == stop_at_step) {
      state.request_checkpoint();
      state.request_stop();
    }
    if (event != Event::after_optimizer_step) return;
    weights.push_back(state.flat_parameters().groups().at(0).values.clone());
    learning_rates.push_back(state.optimizer().learning_rate());
  }
  std::vector<at::Tensor> weights;
  std::vector<double> learning_rates;
  std::int64_t stop_at_step = -1;
};

class AveragingCallbacksTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("averaging-callbacks"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrainConfig config(const std::string& name, std::int64_t steps = 8) const {
    TrainConfig c = trainer::testing::tiny_config(dir_ + "/" + name);
    c.max_steps = steps;
    c.optimizer.lr = 0.01;
    return c;
  }

  struct Run {
    NamedTensors final_weights;
    trainer::TrainResult result;
    std::shared_ptr<LiveRecorder> recorder;
    std::vector<std::shared_ptr<AveragingCallback>> callbacks;
  };

  // Trains the tiny model with the given callbacks (fresh ones per run), with held-out data for evaluation.
  Run run(const TrainConfig& c, std::vector<std::shared_ptr<AveragingCallback>> callbacks,
          std::int64_t stop_at = -1, bool resume = false) {
    trainer::Trainer trainer(c, trainer::testing::tiny_model(), trainer::testing::tiny_data(10, 4));
    Run result;
    result.recorder = std::make_shared<LiveRecorder>();
    result.recorder->stop_at_step = stop_at;
    trainer.add_callback(result.recorder);
    for (const auto& callback : callbacks) trainer.add_callback(callback);
    result.callbacks = callbacks;
    result.result = trainer.train(resume ? std::optional<std::filesystem::path>(c.output_dir) : std::nullopt);
    result.final_weights = trainer::testing::parameters_of(trainer.model());
    return result;
  }

  static std::vector<std::shared_ptr<AveragingCallback>> all_three(const std::string& lawa_dir = "") {
    EmaOptions ema;
    ema.decay = 0.7;
    SwaOptions swa;
    swa.schedule.start_step = 3;
    LawaOptions lawa;
    lawa.k = 3;
    lawa.schedule.every = 2;
    if (!lawa_dir.empty()) {
      lawa.storage = SnapshotStorage::disk;
      lawa.directory = lawa_dir;
    }
    SwaLrOptions lr;
    lr.swa_lr = 0.002;
    lr.anneal_steps = 3;
    return {std::make_shared<EmaCallback>(ema), std::make_shared<SwaCallback>(swa, lr),
            std::make_shared<LawaCallback>(lawa)};
  }

  std::string dir_;
};

// The first due step after s is the least t > s with t >= start_step and (t - start_step) divisible by every.
TEST(StepSchedule, FirstDueStepAfterAStepFollowsStartAndInterval) {
  const StepSchedule from_zero_every_five{0, 5};
  EXPECT_EQ(from_zero_every_five.first_due_after(0), 5);  // step 0 never comes: 0 and 1 differ when every > 1
  EXPECT_EQ(from_zero_every_five.first_due_after(5), 10);
  const StepSchedule from_one_every_five{1, 5};
  EXPECT_EQ(from_one_every_five.first_due_after(0), 1);
  EXPECT_EQ(from_one_every_five.first_due_after(1), 6);
  const StepSchedule from_seven_every_three{7, 3};
  EXPECT_EQ(from_seven_every_three.first_due_after(0), 7);
  EXPECT_EQ(from_seven_every_three.first_due_after(8), 10);
  EXPECT_EQ(from_seven_every_three.first_due_after(10), 13);
}

// A start step past the run's budget would never update the average: the run refuses to begin (no step trained,
// nothing written) and says which key to change.
TEST_F(AveragingCallbacksTest, AStartStepBeyondTheLastStepIsRefusedBeforeTraining) {
  const TrainConfig c = config("late-start", 8);
  SwaOptions swa;
  swa.schedule.start_step = 9;
  auto recorder_run = [&] { run(c, {std::make_shared<SwaCallback>(swa)}); };
  const std::string message = ladle::testing::error_message(recorder_run);
  EXPECT_TRUE(ladle::testing::contains(message, "would be at step 9")) << message;
  EXPECT_TRUE(ladle::testing::contains(message, "averaging.swa.start_step")) << message;
  EXPECT_FALSE(std::filesystem::exists(c.output_dir / "final"));
  EXPECT_FALSE(std::filesystem::exists(c.output_dir / "checkpoints"));
}

// The last step itself is a valid start: one update, an average equal to the final weights.
TEST_F(AveragingCallbacksTest, AStartStepOnTheLastStepAveragesThatStepAlone) {
  const TrainConfig c = config("last-step-start", 8);
  SwaOptions swa;
  swa.schedule.start_step = 8;
  const auto callback = std::make_shared<SwaCallback>(swa);
  const Run result = run(c, {callback});
  ASSERT_EQ(callback->average()->count(), 1);
  EXPECT_TRUE(at::equal(callback->average()->averaged_flat_values().at(0), result.recorder->weights.back()));
}

// The EMA callback's average equals avg ← 0.7·avg + 0.3·live over the weights the trainer produced after each
// optimizer step (the first copies), computed here with plain ATen ops.
TEST_F(AveragingCallbacksTest, EmaFollowsTheLiveWeightsOfEveryOptimizerStep) {
  EmaOptions options;
  options.decay = 0.7;
  auto ema = std::make_shared<EmaCallback>(options);
  const Run result = run(config("ema"), {ema});
  ASSERT_EQ(result.recorder->weights.size(), 8u);
  at::Tensor expected = result.recorder->weights[0].clone();
  for (std::size_t k = 1; k < 8; ++k) expected = 0.7 * expected + (1 - 0.7) * result.recorder->weights[k];
  EXPECT_TRUE(at::equal(ema->average()->averaged_flat_values().at(0), expected));
}

TEST_F(AveragingCallbacksTest, SwaAndLawaAverageTheScheduledSteps) {
  const auto callbacks = all_three();
  const Run result = run(config("swa-lawa"), callbacks);
  const auto& live = result.recorder->weights;
  // SWA from step 3 on: steps 3..8 (weights[2..7]); LAWA: the 3 latest of steps 2, 4, 6, 8.
  const at::Tensor swa = at::stack({live[2], live[3], live[4], live[5], live[6], live[7]}).mean(0);
  const at::Tensor lawa = at::stack({live[3], live[5], live[7]}).to(at::kDouble).mean(0).to(at::kFloat);
  EXPECT_LE((callbacks[1]->average()->averaged_flat_values().at(0) - swa).abs().max().item<double>(), 1e-6);
  EXPECT_TRUE(at::equal(callbacks[2]->average()->averaged_flat_values().at(0), lawa));
}

// Evaluating the averages swaps weights in and out; the live run must be exactly the run without callbacks
// (SWA's learning-rate phase is off here: it changes training on purpose).
TEST_F(AveragingCallbacksTest, EvaluationAndSavingOfAveragesLeaveTrainingBitIdentical) {
  TrainConfig with = config("with");
  with.evaluation.every_steps = 4;
  TrainConfig without = config("without");
  without.evaluation.every_steps = 4;
  EmaOptions ema;
  LawaOptions lawa;
  lawa.k = 2;
  const Run averaged = run(with, {std::make_shared<EmaCallback>(ema), std::make_shared<SwaCallback>(),
                                  std::make_shared<LawaCallback>(lawa)});
  const Run plain = run(without, {});
  trainer::testing::expect_bitwise_equal(averaged.final_weights, plain.final_weights);
  for (const char* metric : {"eval/loss", "ema/loss", "swa/loss", "lawa/loss"}) {
    EXPECT_EQ(averaged.result.metrics.count(metric), 1u) << metric;
  }
}

TEST_F(AveragingCallbacksTest, TrainEndWritesEachAveragedModelAsAFolder) {
  const TrainConfig c = config("folders");
  const auto callbacks = all_three();
  run(c, callbacks);
  for (const auto& callback : callbacks) {
    const std::filesystem::path folder = c.output_dir / callback->name();
    ASSERT_TRUE(std::filesystem::exists(folder / "config.json")) << folder;
    const io::CheckpointReader reader(folder);
    for (const auto& [name, tensor] : callback->average()->averaged_weights()) {
      EXPECT_TRUE(at::equal(reader.tensor(name), tensor)) << callback->name() << " " << name;
    }
  }
}

// Steps 3, 4, 5, ... set the rate of the next step to SWALR's closed form from lr₀ = 0.01 (constant schedule):
// t = (s − 3 + 1)/3, α = (1 − cos πt)/2, lr = α·0.002 + (1 − α)·0.01; before step 3 the schedule's 0.01.
TEST_F(AveragingCallbacksTest, SwaAnnealsTheLearningRateToSwaLr) {
  const Run result = run(config("swa-lr"), all_three());
  const auto& rates = result.recorder->learning_rates;
  ASSERT_EQ(rates.size(), 8u);
  EXPECT_DOUBLE_EQ(rates[0], 0.01);
  EXPECT_DOUBLE_EQ(rates[1], 0.01);
  for (std::int64_t step = 3; step <= 8; ++step) {
    const double t = std::min(1.0, static_cast<double>(step - 3 + 1) / 3.0);
    const double alpha = (1 - std::cos(M_PI * t)) / 2;
    EXPECT_NEAR(rates[step - 1], alpha * 0.002 + (1 - alpha) * 0.01, 1e-15) << "step " << step;
  }
}

// 8 steps straight equal 4 steps, a checkpoint, a resume and 4 more: live weights, every average and the SWA
// learning rate; LAWA keeps its snapshots on disk, and the first run's ring moves on after the checkpoint.
TEST_F(AveragingCallbacksTest, ResumeWithAllThreeCallbacksIsBitIdentical) {
  const Run straight = run(config("straight"), all_three(dir_ + "/ring-straight"));
  run(config("split"), all_three(dir_ + "/ring-split"), /*stop_at=*/5);
  const Run resumed = run(config("split"), all_three(dir_ + "/ring-split"), -1, /*resume=*/true);
  trainer::testing::expect_bitwise_equal(straight.final_weights, resumed.final_weights);
  for (std::size_t i = 0; i < straight.callbacks.size(); ++i) {
    EXPECT_TRUE(at::equal(resumed.callbacks[i]->average()->averaged_flat_values().at(0),
                          straight.callbacks[i]->average()->averaged_flat_values().at(0)))
        << straight.callbacks[i]->name();
  }
  EXPECT_EQ(resumed.recorder->learning_rates.back(), straight.recorder->learning_rates.back());
}

// Three EMAs of one callback: each equals its own recursion over the trainer's weights (the classic ones with ATen
// ops as above, the power one with beta_t = (1 - 1/t)^(gamma+1)), is evaluated and written under its own name.
std::shared_ptr<EmaCallback> three_emas(double gamma) {
  NamedEma slow{"slow", {}, {}};
  slow.options.decay = 0.7;
  NamedEma fast{"fast", {}, {}};
  fast.options.decay = 0.2;
  NamedEma power{"power", {}, {}};
  power.options.power_gamma = gamma;
  return std::make_shared<EmaCallback>(std::vector<NamedEma>{slow, fast, power});
}

TEST_F(AveragingCallbacksTest, SeveralEmasEachFollowTheirOwnRecursionAndWriteTheirOwnFolders) {
  TrainConfig c = config("several");
  c.evaluation.every_steps = 4;
  const double gamma = 2.0;
  const auto emas = three_emas(gamma);
  const Run result = run(c, {emas});
  const auto& live = result.recorder->weights;
  ASSERT_EQ(live.size(), 8u);
  at::Tensor slow = live[0].clone();
  at::Tensor fast = live[0].clone();
  at::Tensor power = live[0].to(at::kDouble);
  for (std::size_t k = 1; k < 8; ++k) {
    slow = 0.7 * slow + (1 - 0.7) * live[k];
    fast = 0.2 * fast + (1 - 0.2) * live[k];
    const double t = static_cast<double>(k + 1);
    const double beta = std::pow(1 - 1 / t, gamma + 1);
    power = beta * power + (1 - beta) * live[k].to(at::kDouble);
  }
  EXPECT_TRUE(at::equal(emas->average(0)->averaged_flat_values().at(0), slow));
  EXPECT_TRUE(at::equal(emas->average(1)->averaged_flat_values().at(0), fast));
  EXPECT_LE((emas->average(2)->averaged_flat_values().at(0).to(at::kDouble) - power).abs().max().item<double>(), 1e-6);
  for (const char* output : {"ema-slow", "ema-fast", "ema-power"}) {
    EXPECT_TRUE(std::filesystem::exists(c.output_dir / output / "config.json")) << output;
    EXPECT_EQ(result.result.metrics.count(std::string(output) + "/loss"), 1u) << output;
  }
  EXPECT_FALSE(std::filesystem::exists(c.output_dir / "ema"));
}

TEST_F(AveragingCallbacksTest, ResumeWithSeveralEmasIsBitIdentical) {
  const Run straight = run(config("several-straight"), {three_emas(3.0)});
  run(config("several-split"), {three_emas(3.0)}, /*stop_at=*/5);
  const Run resumed = run(config("several-split"), {three_emas(3.0)}, -1, /*resume=*/true);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(at::equal(resumed.callbacks[0]->average(i)->averaged_flat_values().at(0),
                          straight.callbacks[0]->average(i)->averaged_flat_values().at(0)))
        << straight.callbacks[0]->outputs()[i].output;
  }
}

// Tensors the filter leaves out are the final live weights in the written model; the others are the average.
TEST_F(AveragingCallbacksTest, FilteredOutParametersKeepTheirLiveValueInTheWrittenAverage) {
  const TrainConfig c = config("filtered");
  AveragingCallbackOptions filtered;
  filtered.exclude = {"norm\\.weight$"};
  EmaOptions options;
  options.decay = 0.7;
  const auto ema = std::make_shared<EmaCallback>(options, filtered);
  const Run result = run(c, {ema});
  const io::CheckpointReader written(c.output_dir / "ema");
  const NamedTensors averaged = ema->average()->averaged_weights();
  std::size_t live_kept = 0;
  for (const auto& [name, tensor] : result.final_weights) {
    const bool is_norm = name.find("norm.weight") != std::string::npos;
    EXPECT_TRUE(at::equal(written.tensor(name), is_norm ? tensor : averaged.at(name))) << name;
    live_kept += is_norm ? 1 : 0;
  }
  EXPECT_GT(live_kept, 0u);
}

TEST_F(AveragingCallbacksTest, AFilterThatLeavesEveryParameterOutIsRefused) {
  AveragingCallbackOptions filtered;
  filtered.include = {"no-such-parameter"};
  const auto swa = std::make_shared<SwaCallback>(SwaOptions{}, std::nullopt, filtered);
  const std::string message = ladle::testing::error_message([&] { run(config("empty-filter"), {swa}); });
  EXPECT_TRUE(ladle::testing::contains(message, "leave every parameter out")) << message;
}

}  // namespace
}  // namespace ladle::callbacks
