// SoupCallback and WiseFtCallback at the end of tiny training runs.
#include "callbacks/end_of_run_callbacks.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "callbacks/averaging_callbacks.h"
#include "lib/io/checkpoint_reader.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/trainer.h"

namespace ladle::callbacks {
namespace {

using trainer::TrainConfig;

// Asks for a checkpoint and a stop at the end of one step.
class StopAt : public trainer::Callback {
 public:
  explicit StopAt(std::int64_t step) : step_(step) {}
  std::string name() const override { return "stop_at"; }
  trainer::CallbackKind kind() const override { return trainer::CallbackKind::observes; }
  void on_event(trainer::Event event, trainer::TrainState& state) override {
    if (event == trainer::Event::step_end && state.step == step_) {
      state.request_checkpoint();
      state.request_stop();
    }
  }

 private:
  std::int64_t step_;
};

class EndOfRunCallbacksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("end-of-run");
    trainer::testing::write_jsonl(dir_ + "/shifted.jsonl", trainer::testing::tiny_records(6, 2000));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrainConfig config(const std::string& name) const {
    TrainConfig c = trainer::testing::tiny_config(dir_ + "/" + name);
    c.max_steps = 8;
    c.optimizer.lr = 0.01;
    c.evaluation.at_end = true;
    c.evaluation.generation_examples = 0;
    c.checkpoint.every_steps = 4;
    c.checkpoint.keep_last = 0;
    return c;
  }

  trainer::TrainResult run(const TrainConfig& c, const std::vector<std::shared_ptr<trainer::Callback>>& callbacks,
                           bool resume = false) {
    trainer::Trainer trainer(c, trainer::testing::tiny_model(), trainer::testing::tiny_data(10, 4));
    for (const auto& callback : callbacks) trainer.add_callback(callback);
    return trainer.train(resume ? std::optional<std::filesystem::path>(c.output_dir) : std::nullopt);
  }

  WiseFtCallbackOptions wise_ft_options() const {
    WiseFtCallbackOptions options;
    options.alphas = {0.0, 0.5, 1.0};
    options.shifted = dir_ + "/shifted.jsonl";
    return options;
  }

  std::string dir_;
};

// Candidates: the final weights, the step-4 checkpoint and the EMA model. The greedy soup starts from the best of
// them, so its held-out loss is at most the final weights' eval/loss.
TEST_F(EndOfRunCallbacksTest, GreedySoupIsNoWorseThanTheFinalWeights) {
  const TrainConfig c = config("greedy");
  EmaOptions ema;
  ema.decay = 0.5;
  const auto result = run(c, {std::make_shared<EmaCallback>(ema), std::make_shared<SoupCallback>()});
  ASSERT_EQ(result.metrics.count("soup/loss"), 1u);
  EXPECT_LE(result.metrics.at("soup/loss"), result.metrics.at("eval/loss"));
  EXPECT_TRUE(std::filesystem::exists(c.output_dir / "soup/config.json"));
  EXPECT_TRUE(std::filesystem::exists(c.output_dir / "soup/soup.md"));
}

TEST_F(EndOfRunCallbacksTest, UniformSoupIsTheMeanOfTheFinalWeightsAndTheCheckpoint) {
  const TrainConfig c = config("uniform");
  SoupCallbackOptions options;
  options.greedy = false;
  run(c, {std::make_shared<SoupCallback>(options)});
  const NamedTensors soup = io::CheckpointReader(c.output_dir / "soup").load_all();
  const NamedTensors final_weights = io::CheckpointReader(c.output_dir / "final").load_all();
  const NamedTensors step4 = io::CheckpointReader(c.output_dir / "checkpoints/step-00000004/model").load_all();
  for (const auto& [name, tensor] : soup) {
    EXPECT_TRUE(at::equal(tensor, (final_weights.at(name) + step4.at(name)) / 2.0)) << name;
  }
}

// α = 1 is the final model, so its in-distribution loss is the run's final eval/loss; the live weights are left
// as they were (the final model folder still matches them).
TEST_F(EndOfRunCallbacksTest, WiseFtSweepsFromTheStartingToTheFinalWeights) {
  const TrainConfig c = config("wise-ft");
  auto wise_ft = std::make_shared<WiseFtCallback>(wise_ft_options());
  trainer::Trainer trainer(c, trainer::testing::tiny_model(), trainer::testing::tiny_data(10, 4));
  trainer.add_callback(wise_ft);
  const auto result = trainer.train();
  const WiseFtSweep& sweep = wise_ft->sweep();
  ASSERT_EQ(sweep.points.size(), 3u);
  EXPECT_DOUBLE_EQ(sweep.points[2].metrics.at("id/loss"), result.metrics.at("eval/loss"));
  EXPECT_EQ(sweep.points[0].metrics.count("ood/loss"), 1u);
  EXPECT_EQ(result.metrics.count("wise_ft/alpha"), 1u);
  for (const char* name : {"config.json", "wise_ft.md", "wise_ft.png"}) {
    EXPECT_TRUE(std::filesystem::exists(c.output_dir / "wise_ft" / name)) << name;
  }
  const NamedTensors final_folder = io::CheckpointReader(c.output_dir / "final").load_all();
  for (const auto& [name, tensor] : trainer.model().hf_state_dict()) {
    EXPECT_TRUE(at::equal(tensor, final_folder.at(name))) << name;
  }
}

// The starting weights travel in the checkpoint: a resumed run's α = 0 point is the same model as a straight
// run's.
TEST_F(EndOfRunCallbacksTest, WiseFtBaseSurvivesAResume) {
  auto straight = std::make_shared<WiseFtCallback>(wise_ft_options());
  run(config("straight"), {straight});
  run(config("split"), {std::make_shared<WiseFtCallback>(wise_ft_options()), std::make_shared<StopAt>(4)});
  auto resumed = std::make_shared<WiseFtCallback>(wise_ft_options());
  run(config("split"), {resumed, std::make_shared<StopAt>(-1)}, /*resume=*/true);
  ASSERT_EQ(resumed->sweep().points.size(), 3u);
  EXPECT_EQ(resumed->sweep().points[0].metrics.at("id/loss"), straight->sweep().points[0].metrics.at("id/loss"));
  EXPECT_EQ(resumed->sweep().points[2].metrics.at("id/loss"), straight->sweep().points[2].metrics.at("id/loss"));
}

}  // namespace
}  // namespace ladle::callbacks
