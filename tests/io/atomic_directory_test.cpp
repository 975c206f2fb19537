// Overwriting a folder with AtomicDirectory: the target holds the old or the new folder at every moment (the two
// exchange names in one step), a process killed at any point of a stream of overwrites leaves a complete target, and
// the next write removes what the killed one left, so that after a commit only the target remains.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "lib/io/atomic_file.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

// Writes version `n` of the folder: two files that both hold n, so a mixed or half-written folder shows.
void write_version(const fs::path& target, int n) {
  AtomicDirectory folder(target, /*overwrite=*/true);
  ladle::testing::write_text_file(folder.path() / "a", std::to_string(n));
  ladle::testing::write_text_file(folder.path() / "b", std::to_string(n));
  folder.commit();
}

std::set<std::string> entries_of(const fs::path& directory) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) names.insert(entry.path().filename().string());
  return names;
}

TEST(AtomicDirectoryOverwrite, TheTargetExistsAtEveryMomentAndOnlyTheNewFolderRemains) {
  const fs::path dir = ladle::testing::make_temp_dir("atomic-overwrite");
  const fs::path target = dir / "out";
  write_version(target, 0);
  std::atomic<bool> done{false};
  std::atomic<long> looks{0}, absent{0};
  std::thread watcher([&] {
    while (!done) {
      std::error_code error;
      if (!fs::exists(target, error)) ++absent;
      ++looks;
    }
  });
  for (int n = 1; n <= 300; ++n) write_version(target, n);
  done = true;
  watcher.join();
  EXPECT_EQ(absent, 0) << "of " << looks << " looks";
  EXPECT_GT(looks, 0);
  EXPECT_EQ(ladle::testing::read_text_file(target / "a"), "300");
  EXPECT_EQ(entries_of(dir), std::set<std::string>{"out"});
  EXPECT_EQ(entries_of(target), (std::set<std::string>{"a", "b"}));
  fs::remove_all(dir);
}

// A child overwrites the folder in a loop and is killed after a seeded random delay, 20 times: each time the
// target is a complete version, and the next write leaves nothing but the target.
TEST(AtomicDirectoryOverwrite, AKillAtAnyPointLeavesACompleteTargetAndTheNextWriteCleansUp) {
  const fs::path dir = ladle::testing::make_temp_dir("atomic-overwrite-kill");
  const fs::path target = dir / "out";
  write_version(target, 0);
  std::mt19937 random(15);
  for (int kill = 0; kill < 20; ++kill) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        for (int n = 1;; ++n) write_version(target, n);
      } catch (...) {
        ::_exit(1);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 20000)(random)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself (status " << status << ")";
    ASSERT_TRUE(fs::is_directory(target)) << "kill " << kill;
    const std::string a = ladle::testing::read_text_file(target / "a");
    EXPECT_FALSE(a.empty()) << "kill " << kill;
    EXPECT_EQ(a, ladle::testing::read_text_file(target / "b")) << "kill " << kill;
  }
  write_version(target, -1);
  EXPECT_EQ(entries_of(dir), std::set<std::string>{"out"});
  EXPECT_EQ(ladle::testing::read_text_file(target / "a"), "-1");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ladle::io
