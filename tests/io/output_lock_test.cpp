// One writer per output folder (OutputLock): a second writer refuses naming the first's pid, a killed holder
// leaves the folder free, and `ladle train` / `ladle merge` refuse a folder another process is writing before
// writing anything; `--resume` without a checkpoint also refuses before writing.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "lib/io/output_lock.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;
using ladle::testing::contains;

// The message of the OutputLock(target) error, or "(locked)" when the lock was taken.
std::string lock_error(const fs::path& target) {
  try {
    OutputLock lock(target);
    return "(locked)";
  } catch (const Error& error) {
    return error.what();
  }
}

// A child process that takes the lock of `target`, tells the parent, and holds it until the parent closes
// `release` (then exits normally, or with _exit before releasing when `killed`).
struct LockHoldingChild {
  pid_t pid = -1;
  int release = -1;

  LockHoldingChild(const fs::path& target, bool killed) {
    int ready[2];
    int hold[2];
    EXPECT_EQ(::pipe(ready), 0);
    EXPECT_EQ(::pipe(hold), 0);
    pid = ::fork();
    if (pid == 0) {
      ::close(ready[0]);
      ::close(hold[1]);
      auto* lock = new OutputLock(target);
      char byte = 1;
      if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
      while (::read(hold[0], &byte, 1) > 0) {
      }
      if (killed) ::_exit(0);  // no destructor: as if killed (the kernel drops the flock, the file stays)
      delete lock;
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    char byte = 0;
    EXPECT_EQ(::read(ready[0], &byte, 1), 1);
    ::close(ready[0]);
    release = hold[1];
  }
  void finish() {
    ::close(release);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
};

TEST(OutputLock, ASecondWriterRefusesNamingTheFirstsPid) {
  const fs::path dir = ladle::testing::make_temp_dir("output-lock");
  LockHoldingChild holder(dir / "out", /*killed=*/false);
  const std::string message = lock_error(dir / "out");
  EXPECT_TRUE(contains(message, "another ladle process (pid " + std::to_string(holder.pid) + ") is writing it"))
      << message;
  holder.finish();
  EXPECT_FALSE(fs::exists(dir / "out.lock"));
  EXPECT_EQ(lock_error(dir / "out"), "(locked)");
  fs::remove_all(dir);
}

TEST(OutputLock, AKilledHolderLeavesTheFolderFree) {
  const fs::path dir = ladle::testing::make_temp_dir("output-lock-killed");
  LockHoldingChild holder(dir / "out", /*killed=*/true);
  holder.finish();
  EXPECT_TRUE(fs::exists(dir / "out.lock"));
  EXPECT_EQ(lock_error(dir / "out"), "(locked)");
  EXPECT_FALSE(fs::exists(dir / "out.lock"));
  fs::remove_all(dir);
}

class OutputLockCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("output-lock-command");
    trainer::testing::write_jsonl(dir_ / "train.jsonl", trainer::testing::tiny_records(8));
    ladle::testing::write_text_file(dir_ / "train.yml", "max_steps: 2\nbatch_size: 4\nthreads: 1\nmodel: {config: " +
                                                            trainer::testing::tiny_llama_json().dump() +
                                                            "}\ntokenizer: {type: byte}\ndata: {train: train.jsonl}\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  ladle::testing::CommandResult train(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {"-q", "train", "--config", (dir_ / "train.yml").string(), "--set",
                                     "output_dir=" + (dir_ / "run").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return ladle::testing::run_ladle(args);
  }

  fs::path dir_;
};

TEST_F(OutputLockCommandTest, TrainRefusesAnOutputDirAnotherProcessIsWriting) {
  {
    const OutputLock held(dir_ / "run");
    const auto refused = train();
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_TRUE(contains(refused.err, "another ladle process (pid " + std::to_string(::getpid()) + ")"))
        << refused.err;
    EXPECT_FALSE(fs::exists(dir_ / "run" / "train_config.json"));
  }
  EXPECT_EQ(train().exit_code, 0);
  EXPECT_FALSE(fs::exists(dir_ / "run.lock"));
}

TEST_F(OutputLockCommandTest, ResumeWithoutACheckpointRefusesBeforeWritingAnything) {
  const auto result = train({"--resume", (dir_ / "run").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "run" / "train_config.json")) << result.err;
}

TEST_F(OutputLockCommandTest, MergeRefusesAnOutputAnotherProcessIsWriting) {
  ladle::testing::write_random_llama(dir_ / "a");
  ladle::testing::write_random_llama(dir_ / "b");
  const std::string yaml = "merge_method: linear\nparameters: {weight: 1}\nmodels:\n  - model: a\n  - model: b\n";
  ladle::testing::write_text_file(dir_ / "merge.yml", yaml);
  const OutputLock held(dir_ / "merged");
  const auto result = ladle::testing::run_ladle({"merge", (dir_ / "merge.yml").string(), (dir_ / "merged").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "another ladle process (pid " + std::to_string(::getpid()) + ")")) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "merged"));
}

}  // namespace
}  // namespace ladle::io
