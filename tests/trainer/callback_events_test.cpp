// The callback contract: which events fire, in which order, how often, and in which order callbacks see them.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/command_runner.h"
#include "tests/support/tiny_run.h"
#include "trainer/trainer.h"

namespace ladle::trainer {
namespace {

using testing::EventRecorder;

class CallbackEventsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("callback-events"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CallbackEventsTest, TwoEpochsOfTwoAccumulatedStepsWithAnEvaluationFireInTheDocumentedOrder) {
  // 8 examples in micro-batches of 2, two micro-batches per step: 2 steps per epoch, 4 steps in 2 epochs.
  TrainConfig config = testing::tiny_config(dir_);
  config.max_steps = 0;
  config.epochs = 2;
  config.gradient_accumulation_steps = 2;
  config.evaluation.every_steps = 3;
  config.evaluation.at_end = true;
  config.evaluation.generation_examples = 0;
  Trainer trainer(config, testing::tiny_model(), testing::tiny_data(8, 4));
  auto recorder = std::make_shared<EventRecorder>();
  trainer.add_callback(recorder);
  trainer.train();

  const std::vector<std::string> step = {"step_begin", "after_backward", "after_optimizer_step", "step_end"};
  std::vector<std::string> expected = {"train_begin", "epoch_begin"};
  expected.insert(expected.end(), step.begin(), step.end());  // step 1
  expected.insert(expected.end(), step.begin(), step.end());  // step 2
  expected.insert(expected.end(), {"epoch_end", "epoch_begin"});
  expected.insert(expected.end(), {"step_begin", "after_backward", "after_optimizer_step", "before_evaluation",
                                   "after_evaluation", "step_end"});  // step 3 evaluates
  expected.insert(expected.end(), step.begin(), step.end());          // step 4
  expected.insert(expected.end(), {"epoch_end", "before_evaluation", "after_evaluation", "train_end"});
  EXPECT_EQ(recorder->log(), expected);
  EXPECT_EQ(trainer.state().step, 4);
  EXPECT_EQ(trainer.state().micro_step, 8);
}

TEST_F(CallbackEventsTest, StepBeginSeesTheStepsMicroBatches) {
  TrainConfig config = testing::tiny_config(dir_);
  config.max_steps = 1;
  config.gradient_accumulation_steps = 3;
  Trainer trainer(config, testing::tiny_model(), testing::tiny_data(8));
  struct Probe : EventRecorder {
    void on_event(Event event, TrainState& state) override {
      if (event == Event::step_begin) sizes.push_back(state.micro_batches.size());
      if (event == Event::after_backward) losses.push_back(state.loss);
    }
    std::vector<std::size_t> sizes;
    std::vector<double> losses;
  };
  auto probe = std::make_shared<Probe>();
  trainer.add_callback(probe);
  trainer.train();
  EXPECT_EQ(probe->sizes, std::vector<std::size_t>{3});
  ASSERT_EQ(probe->losses.size(), 1u);
  EXPECT_TRUE(std::isfinite(probe->losses[0]));
}

TEST_F(CallbackEventsTest, WeightModifyingCallbacksRunBeforeObserversInRegistrationOrder) {
  TrainConfig config = testing::tiny_config(dir_);
  config.max_steps = 1;
  Trainer trainer(config, testing::tiny_model(), testing::tiny_data(4));
  std::vector<std::string> log;
  trainer.add_callback(std::make_shared<EventRecorder>("observer_a", CallbackKind::observes, &log));
  trainer.add_callback(std::make_shared<EventRecorder>("modifier_b", CallbackKind::modifies_weights, &log));
  trainer.add_callback(std::make_shared<EventRecorder>("observer_c", CallbackKind::observes, &log));
  trainer.add_callback(std::make_shared<EventRecorder>("modifier_d", CallbackKind::modifies_weights, &log));
  trainer.train();
  const std::vector<std::string> first(log.begin(), log.begin() + 4);
  EXPECT_EQ(first, (std::vector<std::string>{"modifier_b:train_begin", "modifier_d:train_begin",
                                             "observer_a:train_begin", "observer_c:train_begin"}));
  ASSERT_EQ(log.size() % 4, 0u);
  for (std::size_t i = 0; i < log.size(); i += 4) {
    EXPECT_EQ(log[i].rfind("modifier_b:", 0), 0u) << log[i];
    EXPECT_EQ(log[i + 3].rfind("observer_c:", 0), 0u) << log[i + 3];
  }
}

TEST_F(CallbackEventsTest, ResumedRunContinuesTheEventSequenceOfTheUninterruptedRun) {
  // 10 examples, micro-batches of 2, accumulation 2: 3 steps per epoch, the third of one micro-batch. The run
  // stops after step 3, the last of epoch 0, so the resumed run owes epoch_end first.
  const auto run = [&](const std::string& out, std::int64_t stop_at, bool resume) {
    TrainConfig config = testing::tiny_config(out);
    config.max_steps = 5;
    config.gradient_accumulation_steps = 2;
    Trainer trainer(config, testing::tiny_model(), testing::tiny_data(10));
    auto recorder = std::make_shared<EventRecorder>();
    recorder->stop_at_step = stop_at;
    trainer.add_callback(recorder);
    trainer.train(resume ? std::optional<std::filesystem::path>(out) : std::nullopt);
    return recorder->log();
  };
  const auto straight = run(dir_ + "/straight", -1, false);
  run(dir_ + "/split", 3, false);
  const auto resumed = run(dir_ + "/split", -1, true);

  // The straight run's events after step 3's step_end, against the resumed run's after train_begin.
  std::size_t step_ends = 0, cut = 0;
  while (step_ends < 3) step_ends += straight[cut++] == "step_end";
  const std::vector<std::string> straight_rest(straight.begin() + static_cast<std::ptrdiff_t>(cut), straight.end());
  ASSERT_GE(resumed.size(), 2u);
  EXPECT_EQ(resumed[0], "checkpoint_load");
  EXPECT_EQ(resumed[1], "train_begin");
  EXPECT_EQ(std::vector<std::string>(resumed.begin() + 2, resumed.end()), straight_rest);
}

TEST_F(CallbackEventsTest, CallbackNamesMustBeUniqueAndUsableAsFolderNames) {
  Trainer trainer(testing::tiny_config(dir_), testing::tiny_model(), testing::tiny_data(4));
  EXPECT_THROW(trainer.add_callback(std::make_shared<EventRecorder>("progress")), Error);
  EXPECT_THROW(trainer.add_callback(std::make_shared<EventRecorder>("a/b")), Error);
}

}  // namespace
}  // namespace ladle::trainer
