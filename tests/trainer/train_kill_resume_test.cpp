// Fault injection: `ladle train` on a tiny Llama (attention dropout, EMA, SWA and LAWA on, a checkpoint after every
// step, the 2 latest kept) is killed with SIGKILL at seeded random moments, and each killed run is continued as a
// user would (--resume when a complete checkpoint exists, else a fresh start) until it finishes. Every run must end
// with final/, ema/, swa/ and lawa/ byte-identical to one uninterrupted run's, and with no leftover of a killed write.
// The moments are uniform over the uninterrupted run's duration, so they fall in start-up, training steps, checkpoint
// writes, pruning and the end-of-run writes alike.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/support/interrupted_command.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle::trainer {
namespace {

namespace fs = std::filesystem;
using ladle::testing::CommandResult;
using ladle::testing::contains;

constexpr int kRuns = 12;        // interrupted runs, each continued until it finishes
constexpr int kKillsPerRun = 2;  // kills that land in each of them (24 in all)
constexpr unsigned kSeed = 20261207;

class TrainKillResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("train-kill-resume");
    testing::write_jsonl(dir_ / "train.jsonl", testing::tiny_records(12));
    ladle::testing::write_text_file(dir_ / "train.yml",
                                    "max_steps: 8\nbatch_size: 2\nthreads: 1\nlog_every_steps: 1\n"
                                    "optimizer: {lr: 0.01}\n"
                                    "model: {config: " +
                                        testing::tiny_llama_json(/*attention_dropout=*/0.1).dump() +
                                        "}\n"
                                        "tokenizer: {type: byte}\n"
                                        "data: {train: train.jsonl}\n"
                                        "checkpoint: {every_steps: 1, keep_last: 2}\n"
                                        "averaging:\n"
                                        "  ema: {decay: 0.5}\n"
                                        "  swa: {start_step: 2}\n"
                                        "  lawa: {k: 2, every: 2}\n");
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Runs `ladle train` into `out`, killed after `kill_after` when it is given.
  CommandResult train(const fs::path& out, std::vector<std::string> extra,
                      std::optional<std::chrono::microseconds> kill_after) const {
    std::vector<std::string> args = {
        "-q", "train", "--config", (dir_ / "train.yml").string(), "--set", "output_dir=" + out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return kill_after ? ladle::testing::run_ladle_killed_after(args, *kill_after) : ladle::testing::run_ladle(args);
  }

  // What a user does after a crash: --resume, or a fresh start when there is no complete checkpoint to resume from.
  CommandResult continue_run(const fs::path& out, std::optional<std::chrono::microseconds> kill_after) const {
    CommandResult result = train(out, {"--resume", out.string()}, kill_after);
    if (result.exit_code == 1 && (contains(result.err, "no complete checkpoint") || contains(result.err, "no such"))) {
      result = train(out, {}, kill_after);
    }
    return result;
  }

  fs::path dir_;
};

bool was_killed(const CommandResult& result) { return result.exit_code == 128 + 9; }

// Every file under `folder` by its relative path, with its bytes.
std::map<std::string, std::string> files_of(const fs::path& folder) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) {
      files[entry.path().lexically_relative(folder).string()] = ladle::testing::read_text_file(entry.path());
    }
  }
  return files;
}

// Paths under `folder` (and the folder's siblings' names) that a killed write leaves: "*.partial-<pid>", "*.lock".
std::vector<std::string> leftovers_in(const fs::path& folder) {
  std::vector<std::string> found;
  const auto is_leftover = [](const fs::path& path) {
    const std::string name = path.filename().string();
    return contains(name, ".partial-") || (path.extension() == ".lock");
  };
  for (const auto& entry : fs::directory_iterator(folder.parent_path())) {
    if (is_leftover(entry.path())) found.push_back(entry.path().string());
  }
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (is_leftover(entry.path())) found.push_back(entry.path().string());
  }
  return found;
}

TEST_F(TrainKillResumeTest, RunsKilledAtRandomMomentsAndResumedEndByteIdenticalToAnUninterruptedRun) {
  const fs::path reference = dir_ / "reference" / "out";
  fs::create_directories(reference.parent_path());
  const auto start = std::chrono::steady_clock::now();
  const CommandResult straight = train(reference, {}, std::nullopt);
  const auto duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  std::map<std::string, std::map<std::string, std::string>> expected;
  for (const char* folder : {"final", "ema", "swa", "lawa"}) {
    expected[folder] = files_of(reference / folder);
    ASSERT_FALSE(expected[folder].empty()) << folder;
  }

  std::mt19937_64 random(kSeed);
  std::uniform_int_distribution<std::int64_t> moment(0, duration.count());
  int kills = 0;
  for (int run = 0; run < kRuns; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    const fs::path out = dir_ / ("run-" + std::to_string(run)) / "out";
    fs::create_directories(out.parent_path());
    std::string moments;  // when each attempt was to be killed, for the failure messages
    // A run that finishes before its kill lands is continued again (which redoes its end), so every run takes
    // kKillsPerRun kills; the attempt limit only guards against a run that never gets killed.
    int landed = 0;
    for (int attempt = 0; landed < kKillsPerRun && attempt < 4 * kKillsPerRun; ++attempt) {
      const std::chrono::microseconds kill_after(moment(random));
      const CommandResult result = attempt > 0 ? continue_run(out, kill_after) : train(out, {}, kill_after);
      ASSERT_TRUE(was_killed(result) || result.exit_code == 0) << "exit " << result.exit_code << ": " << result.err;
      landed += was_killed(result) ? 1 : 0;
      moments += (moments.empty() ? "" : ", ") + std::to_string(kill_after.count() / 1000) + " ms" +
                 (was_killed(result) ? "" : " (finished first)");
    }
    kills += landed;
    const CommandResult last = continue_run(out, std::nullopt);
    ASSERT_EQ(last.exit_code, 0) << "after kills at " << moments << ": " << last.err;
    for (const auto& [folder, files] : expected) {
      const auto actual = files_of(out / folder);
      ASSERT_EQ(actual.size(), files.size()) << folder << " after kills at " << moments;
      for (const auto& [name, bytes] : files) {
        EXPECT_TRUE(actual.count(name) == 1 && actual.at(name) == bytes)
            << folder << "/" << name << " differs after kills at " << moments;
      }
    }
    for (const auto& leftover : leftovers_in(out)) ADD_FAILURE() << leftover << " left after kills at " << moments;
  }
  EXPECT_GE(kills, 20);
}

}  // namespace
}  // namespace ladle::trainer
