// Checkpoints and resume: training 2N steps straight and N steps + resume + N steps give bit-identical weights
// (with dropout, a warmup + cosine schedule, accumulation and an epoch boundary in play), a callback's state
// comes back exactly, and an interrupted checkpoint write is passed over for the previous complete one, as is one
// whose files no longer match its checksums.json (a flipped byte, a truncated file); `ladle inspect --verify` finds
// the same damage.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checksum_manifest.h"
#include "lib/log/log.h"
#include "lib/weights/flat_parameters.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/checkpoint.h"
#include "trainer/trainer.h"

namespace ladle::trainer {
namespace {

using testing::EventRecorder;

// A weight-modifying callback with state: it keeps an exponential average of the weights (a tensor) and a
// count (JSON), and every second step pulls the live weights a little towards the average, so the weights of
// a resumed run depend on its state coming back exactly.
class PullTowardsAverage : public Callback {
 public:
  std::string name() const override { return "pull_towards_average"; }
  CallbackKind kind() const override { return CallbackKind::modifies_weights; }
  void on_event(Event event, TrainState& state) override {
    if (event != Event::after_optimizer_step) return;
    const at::Tensor& live = state.flat_parameters().groups().front().values;
    if (!average_.defined()) average_ = live.clone();
    average_.mul_(0.8).add_(live, 0.2);
    if (++updates_ % 2 == 0) const_cast<at::Tensor&>(live).add_(average_ - live, 0.1);
  }
  void save_state(CallbackState& state) const override {
    if (average_.defined()) state.tensors.insert("average", average_);
    state.json = {{"updates", updates_}};
  }
  void load_state(const CallbackState& state) override {
    if (state.tensors.contains("average")) average_ = state.tensors.at("average").clone();
    updates_ = state.json.at("updates").get<std::int64_t>();
  }
  at::Tensor average_;
  std::int64_t updates_ = 0;
};

class CheckpointResumeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("checkpoint-resume"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // 10 examples, micro-batches of 2, accumulation 2: 3 steps per epoch; 8 steps cross two epoch boundaries.
  TrainConfig config(const std::string& out) const {
    TrainConfig c = testing::tiny_config(out);
    c.max_steps = 8;
    c.gradient_accumulation_steps = 2;
    c.schedule.name = ScheduleKind::cosine;
    c.schedule.warmup_steps = 2;
    c.optimizer.weight_decay = 0.1;
    return c;
  }

  // Trains with attention dropout (so the random generator matters) and returns the final weights.
  NamedTensors run(const TrainConfig& c, std::int64_t stop_at, bool resume, bool with_callback = false,
                   std::shared_ptr<PullTowardsAverage>* callback_out = nullptr) {
    Trainer trainer(c, testing::tiny_model(/*attention_dropout=*/0.2), testing::tiny_data(10));
    auto recorder = std::make_shared<EventRecorder>();
    recorder->stop_at_step = stop_at;
    trainer.add_callback(recorder);
    if (with_callback) {
      auto callback = std::make_shared<PullTowardsAverage>();
      trainer.add_callback(callback);
      if (callback_out != nullptr) *callback_out = callback;
    }
    trainer.train(resume ? std::optional<std::filesystem::path>(c.output_dir) : std::nullopt);
    return testing::parameters_of(trainer.model());
  }

  // What `act` logs at warning level or above.
  template <typename Act>
  std::string warnings_while(const Act& act) const {
    log::LoggingOptions logging;
    logging.console_level = log::Level::error;
    logging.file = dir_ + "/warnings.log";
    logging.file_level = log::Level::warning;
    log::configure_logging(logging);
    act();
    log::configure_logging(log::LoggingOptions{});
    const std::string text = ladle::testing::read_text_file(dir_ + "/warnings.log");
    std::filesystem::remove(dir_ + "/warnings.log");
    return text;
  }

  // Checkpoints at steps 2 and 4 of a run stopped at step 4 (of 8).
  TrainConfig run_to_step_4(const std::string& out) {
    TrainConfig c = config(out);
    c.checkpoint.every_steps = 2;
    c.checkpoint.keep_last = 0;
    run(c, 4, false);
    return c;
  }

  std::string dir_;
};

// Changes the last byte of a file in place (for a safetensors file: the last tensor's data).
void flip_last_byte(const std::filesystem::path& file) {
  std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
  stream.seekg(-1, std::ios::end);
  const char byte = static_cast<char>(stream.get());
  stream.seekp(-1, std::ios::end);
  stream.put(static_cast<char>(byte ^ 0x10));
}

TEST_F(CheckpointResumeTest, ResumingMidEpochGivesBitIdenticalWeights) {
  const auto straight = run(config(dir_ + "/straight"), -1, false);
  run(config(dir_ + "/split"), 4, false);
  const auto resumed = run(config(dir_ + "/split"), -1, true);
  testing::expect_bitwise_equal(straight, resumed);
}

TEST_F(CheckpointResumeTest, ResumingAtAnEpochBoundaryGivesBitIdenticalWeights) {
  const auto straight = run(config(dir_ + "/straight"), -1, false);
  run(config(dir_ + "/split"), 3, false);
  const auto resumed = run(config(dir_ + "/split"), -1, true);
  testing::expect_bitwise_equal(straight, resumed);
}

TEST_F(CheckpointResumeTest, ResumingWithAStatefulWeightModifyingCallbackGivesBitIdenticalWeights) {
  std::shared_ptr<PullTowardsAverage> straight_callback, resumed_callback;
  const auto straight = run(config(dir_ + "/straight"), -1, false, true, &straight_callback);
  run(config(dir_ + "/split"), 4, false, true);
  const auto resumed = run(config(dir_ + "/split"), -1, true, true, &resumed_callback);
  testing::expect_bitwise_equal(straight, resumed);
  EXPECT_EQ(resumed_callback->updates_, 8);
  EXPECT_TRUE(at::equal(straight_callback->average_, resumed_callback->average_));
}

TEST_F(CheckpointResumeTest, ResumingALoraRunGivesBitIdenticalWeights) {
  const auto lora = [&](const std::string& out) {
    TrainConfig c = config(out);
    c.lora.enabled = true;
    c.lora.r = 2;
    c.lora.dropout = 0.1;
    c.optimizer.lr = 0.01;
    return c;
  };
  const auto straight = run(lora(dir_ + "/straight"), -1, false);
  run(lora(dir_ + "/split"), 4, false);
  const auto resumed = run(lora(dir_ + "/split"), -1, true);
  testing::expect_bitwise_equal(straight, resumed);
  EXPECT_TRUE(straight.contains("model.layers.0.self_attn.q_proj.lora_B.weight"));
}

TEST_F(CheckpointResumeTest, CallbackStateSurvivesACheckpoint) {
  std::shared_ptr<PullTowardsAverage> saved, loaded;
  TrainConfig c = config(dir_ + "/run");
  run(c, 3, false, true, &saved);
  const at::Tensor average_at_checkpoint = saved->average_.clone();
  // Resume into a run that stops right away, so load_state's result is what we see.
  c.max_steps = 3;
  run(c, -1, true, true, &loaded);
  EXPECT_EQ(loaded->updates_, 3);
  EXPECT_TRUE(at::equal(loaded->average_, average_at_checkpoint));
  // The state is in the checkpoint under the callback's name.
  const auto checkpoint = checkpoint_path(c.output_dir, 3);
  EXPECT_TRUE(std::filesystem::exists(checkpoint / "callbacks/pull_towards_average/state.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(checkpoint / "callbacks/pull_towards_average/state.json"));
}

TEST_F(CheckpointResumeTest, ResumeFailsWhenARegisteredCallbackHasNoSavedState) {
  TrainConfig c = config(dir_ + "/run");
  run(c, 2, false);
  const auto message = ladle::testing::error_message([&] { run(c, -1, true, /*with_callback=*/true); });
  EXPECT_TRUE(ladle::testing::contains(message, "holds no state for callback 'pull_towards_average'")) << message;
}

TEST_F(CheckpointResumeTest, InterruptedCheckpointWriteResumesFromThePreviousCompleteOne) {
  TrainConfig c = config(dir_ + "/run");
  c.checkpoint.every_steps = 2;
  c.checkpoint.keep_last = 0;
  run(c, 4, false);  // complete checkpoints at steps 2 and 4
  // What a process killed while writing step 6 leaves: a partial folder, and a folder without trainer_state.json.
  const auto checkpoints = checkpoints_dir(c.output_dir);
  std::filesystem::create_directories(checkpoints / "step-00000006.partial-4242/model");
  ladle::testing::write_text_file(checkpoints / "step-00000006.partial-4242/model/config.json", "{\"trunc");
  std::filesystem::create_directories(checkpoints / "step-00000008/model");
  EXPECT_EQ(find_latest_checkpoint(c.output_dir), checkpoint_path(c.output_dir, 4));

  const auto resumed = run(c, -1, true);
  EXPECT_FALSE(std::filesystem::exists(checkpoints / "step-00000006.partial-4242"));
  c.output_dir = dir_ + "/straight";
  testing::expect_bitwise_equal(run(c, -1, false), resumed);
}

TEST_F(CheckpointResumeTest, KeepLastDeletesOlderCheckpoints) {
  TrainConfig c = config(dir_ + "/run");
  c.checkpoint.every_steps = 2;
  c.checkpoint.keep_last = 2;
  run(c, -1, false);
  const auto kept = complete_checkpoints(checkpoints_dir(c.output_dir));
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].step, 6);
  EXPECT_EQ(kept[1].step, 8);
}

TEST_F(CheckpointResumeTest, CheckpointHoldsAModelFolderAndTheOptimizerStateByParameterName) {
  TrainConfig c = config(dir_ + "/run");
  run(c, 2, false);
  const auto checkpoint = checkpoint_path(c.output_dir, 2);
  io::CheckpointReader model(checkpoint / "model");
  EXPECT_TRUE(model.contains("model.layers.0.self_attn.q_proj.weight"));
  io::CheckpointReader optimizer(checkpoint / "optimizer.safetensors");
  EXPECT_TRUE(optimizer.contains("exp_avg.model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(optimizer.contains("exp_avg_sq.model.norm.weight"));
}

TEST_F(CheckpointResumeTest, ResumeWithoutACheckpointIsAClearError) {
  // Refused before anything is written: a missing folder stays missing.
  const auto missing = ladle::testing::error_message([&] { run(config(dir_ + "/missing"), -1, true); });
  EXPECT_TRUE(ladle::testing::contains(missing, "no such folder")) << missing;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/missing"));
  std::filesystem::create_directories(dir_ + "/empty");
  const auto message = ladle::testing::error_message([&] { run(config(dir_ + "/empty"), -1, true); });
  EXPECT_TRUE(ladle::testing::contains(message, "no complete checkpoint")) << message;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/empty/train_config.json"));
}

TEST_F(CheckpointResumeTest, FreshRunRefusesAnOutputFolderHoldingAnotherRun) {
  TrainConfig c = config(dir_ + "/run");
  c.max_steps = 1;
  run(c, -1, false);
  const auto message = ladle::testing::error_message([&] { run(c, -1, false); });
  EXPECT_TRUE(ladle::testing::contains(message, "already holds a run")) << message;
}

TEST_F(CheckpointResumeTest, EveryCheckpointHoldsAManifestOfItsFilesThatVerifies) {
  const TrainConfig c = run_to_step_4(dir_ + "/run");
  for (const std::int64_t step : {2, 4}) {
    const auto checkpoint = checkpoint_path(c.output_dir, step);
    const io::ChecksumVerification check = io::verify_checksum_manifest(checkpoint);
    EXPECT_TRUE(check.verified()) << io::describe_problems(checkpoint, check.problems);
    // trainer_state.json, optimizer and rng state, the model folder's config, weights and tokenizer files, ...
    EXPECT_GE(check.files_checked, 5u);
  }
}

TEST_F(CheckpointResumeTest, AFlippedByteInTheNewestCheckpointFallsBackToThePreviousOneAndStillEndsBitIdentical) {
  TrainConfig c = run_to_step_4(dir_ + "/run");
  const auto damaged = checkpoint_path(c.output_dir, 4) / "model/model.safetensors";
  flip_last_byte(damaged);
  NamedTensors resumed;
  const std::string warnings = warnings_while([&] {
    EXPECT_EQ(find_checkpoint_to_resume(c.output_dir), checkpoint_path(c.output_dir, 2));
    resumed = run(c, -1, true);
  });
  EXPECT_TRUE(ladle::testing::contains(warnings, damaged.string() + ": content differs")) << warnings;
  EXPECT_TRUE(io::verify_checksum_manifest(checkpoint_path(c.output_dir, 4)).verified()) << "rewritten by the resume";
  c.output_dir = dir_ + "/straight";
  testing::expect_bitwise_equal(run(c, -1, false), resumed);
}

TEST_F(CheckpointResumeTest, ATruncatedFileInTheNewestCheckpointFallsBackToThePreviousOne) {
  const TrainConfig c = run_to_step_4(dir_ + "/run");
  const auto damaged = checkpoint_path(c.output_dir, 4) / "optimizer.safetensors";
  std::filesystem::resize_file(damaged, std::filesystem::file_size(damaged) - 100);
  const std::string warnings =
      warnings_while([&] { EXPECT_EQ(find_checkpoint_to_resume(c.output_dir), checkpoint_path(c.output_dir, 2)); });
  EXPECT_TRUE(ladle::testing::contains(warnings, damaged.string() + ": size ")) << warnings;
}

TEST_F(CheckpointResumeTest, ACheckpointWithoutAManifestResumesWithAWarningThatItCannotBeVerified) {
  const TrainConfig c = run_to_step_4(dir_ + "/run");
  std::filesystem::remove(checkpoint_path(c.output_dir, 4) / io::kChecksumManifestFile);
  const std::string warnings =
      warnings_while([&] { EXPECT_EQ(find_checkpoint_to_resume(c.output_dir), checkpoint_path(c.output_dir, 4)); });
  EXPECT_TRUE(ladle::testing::contains(warnings, "cannot be verified")) << warnings;
}

TEST_F(CheckpointResumeTest, ResumeFailsClearlyWhenNoCheckpointMatchesItsChecksums) {
  const TrainConfig c = run_to_step_4(dir_ + "/run");
  flip_last_byte(checkpoint_path(c.output_dir, 2) / "rng.safetensors");
  std::filesystem::remove(checkpoint_path(c.output_dir, 4) / "optimizer.safetensors");
  const auto message = ladle::testing::error_message([&] { run(c, -1, true); });
  EXPECT_TRUE(ladle::testing::contains(message, "no checkpoint matches its checksums")) << message;
  EXPECT_TRUE(ladle::testing::contains(message, "step-00000004/optimizer.safetensors: missing")) << message;
  EXPECT_TRUE(ladle::testing::contains(message, "step-00000002/rng.safetensors: content differs")) << message;
}

TEST_F(CheckpointResumeTest, InspectVerifyChecksACheckpointOrEveryCheckpointOfARun) {
  const TrainConfig c = run_to_step_4(dir_ + "/run");
  const std::string run_dir = c.output_dir.string(), step_4 = checkpoint_path(c.output_dir, 4).string();
  const auto whole_run = ladle::testing::run_ladle({"inspect", "--verify", run_dir});
  EXPECT_EQ(whole_run.exit_code, 0) << whole_run.err;
  EXPECT_TRUE(ladle::testing::contains(whole_run.out, "step-00000002: verified, ")) << whole_run.out;
  EXPECT_TRUE(ladle::testing::contains(whole_run.out, step_4 + ": verified, ")) << whole_run.out;

  flip_last_byte(step_4 + "/model/model.safetensors");
  const auto one = ladle::testing::run_ladle({"inspect", "--verify", step_4});
  EXPECT_EQ(one.exit_code, 1);
  EXPECT_TRUE(ladle::testing::contains(one.out, step_4 + "/model/model.safetensors: content differs")) << one.out;
  EXPECT_EQ(one.err, "ladle: error: " + step_4 + ": 1 of 1 folder not verified\n");
  const auto damaged_run = ladle::testing::run_ladle({"inspect", "--verify", run_dir});
  EXPECT_EQ(damaged_run.exit_code, 1);
  EXPECT_TRUE(ladle::testing::contains(damaged_run.err, ": 1 of 2 folders not verified")) << damaged_run.err;

  std::filesystem::remove(step_4 + "/checksums.json");
  const auto unverifiable = ladle::testing::run_ladle({"inspect", "--verify", step_4});
  EXPECT_EQ(unverifiable.exit_code, 1);
  EXPECT_TRUE(ladle::testing::contains(unverifiable.out, "no checksums.json, cannot be verified")) << unverifiable.out;
}

}  // namespace
}  // namespace ladle::trainer
