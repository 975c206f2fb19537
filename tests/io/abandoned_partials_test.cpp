// Leftovers of killed writes ("<target>.partial-<pid>") are removed by the next write of the same target when their
// process is gone, and only then: a live writer's partial folder, other targets' and look-alike names stay.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "lib/io/atomic_file.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

// The pid of a child that has exited and been reaped: a process that is certainly gone.
pid_t pid_of_a_finished_process() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

fs::path make_folder_with_a_file(const fs::path& folder) {
  fs::create_directories(folder);
  std::ofstream(folder / "model-00001-of-00002.safetensors") << "half a shard";
  return folder;
}

TEST(AbandonedPartials, AnotherWriteOfTheTargetRemovesOnlyThoseOfProcessesThatAreGone) {
  const fs::path dir = ladle::testing::make_temp_dir("abandoned-partials");
  const std::string dead = std::to_string(pid_of_a_finished_process());
  const std::string live = std::to_string(::getppid());
  const fs::path killed = make_folder_with_a_file(dir / ("out.partial-" + dead));
  const fs::path killed_aside = make_folder_with_a_file(dir / ("out.replaced.partial-" + dead));
  const fs::path running = make_folder_with_a_file(dir / ("out.partial-" + live));
  const fs::path other_target = make_folder_with_a_file(dir / ("other.partial-" + dead));
  const fs::path look_alike = make_folder_with_a_file(dir / "out.partial-notes");

  AtomicDirectory folder(dir / "out");
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_FALSE(fs::exists(killed_aside));
  EXPECT_TRUE(fs::exists(running));
  EXPECT_TRUE(fs::exists(other_target));
  EXPECT_TRUE(fs::exists(look_alike));
  folder.commit();
  EXPECT_TRUE(fs::is_directory(dir / "out"));
  EXPECT_EQ(remove_abandoned_partials(dir / "out"), 0u);
  fs::remove_all(dir);
}

TEST(AbandonedPartials, AMergeCleansUpAfterAKilledMergeOfTheSameOutput) {
  const fs::path dir = ladle::testing::make_temp_dir("abandoned-merge");
  ladle::testing::write_random_llama(dir / "a");
  ladle::testing::RandomLlamaOptions second;
  second.seed = 2;
  ladle::testing::write_random_llama(dir / "b", second);
  const std::string dead = std::to_string(pid_of_a_finished_process());
  const fs::path leftover = make_folder_with_a_file(dir / ("out.partial-" + dead));
  const std::string yaml = "merge_method: linear\nparameters: {weight: 1}\nmodels:\n  - model: a\n  - model: b\n";
  ladle::testing::write_text_file(dir / "merge.yml", yaml);
  const auto result = ladle::testing::run_ladle({"merge", (dir / "merge.yml").string(), (dir / "out").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_NE(result.err.find("left by an interrupted write"), std::string::npos) << result.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ladle::io
