// How `ladle evolve` spreads the candidates of a generation over workers: the worker count it chooses, the
// MemAvailable figure that bounds it, and the single-threaded worker loop (every index once, one ATen thread per
// worker, the first failure rethrown).
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lib/util/available_memory.h"
#include "pipelines/evolve/scoring_workers.h"
#include "pipelines/evolve/single_threaded_workers.h"

namespace ladle::evolve {
namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

// threads, population, bytes per worker, available bytes
ScoringLimits limits(int threads, std::int64_t population, std::uint64_t per_worker,
                     std::optional<std::uint64_t> available) {
  return {threads, population, per_worker, available};
}

TEST(ScoringWorkers, AGivenCountIsKeptUpToThePopulation) {
  EXPECT_EQ(choose_scoring_workers(1, limits(8, 6, kGiB, 0)).count, 1);  // no memory at all: still as asked
  EXPECT_EQ(choose_scoring_workers(3, limits(1, 6, kGiB, kGiB)).count, 3);
  const ScoringWorkers capped = choose_scoring_workers(9, limits(8, 6, kGiB, 100 * kGiB));
  EXPECT_EQ(capped.count, 6);
  EXPECT_NE(capped.reason.find("capped at the population"), std::string::npos) << capped.reason;
}

TEST(ScoringWorkers, AutoTakesTheFewestOfThreadsPopulationAndWorkersThatFitInThreeQuartersOfMemory) {
  EXPECT_EQ(choose_scoring_workers(0, limits(8, 6, kGiB, 100 * kGiB)).count, 6);  // population
  EXPECT_EQ(choose_scoring_workers(0, limits(2, 6, kGiB, 100 * kGiB)).count, 2);  // threads
  EXPECT_EQ(choose_scoring_workers(0, limits(8, 6, kGiB, 4 * kGiB)).count, 3);    // floor(0.75 * 4 / 1)
  EXPECT_EQ(choose_scoring_workers(0, limits(8, 6, 3 * kGiB, 4 * kGiB)).count, 1);  // floor(0.75 * 4 / 3)
  EXPECT_EQ(choose_scoring_workers(0, limits(8, 6, 5 * kGiB, 4 * kGiB)).count, 1);  // none fits: still one
  const ScoringWorkers unknown = choose_scoring_workers(0, limits(4, 6, kGiB, std::nullopt));
  EXPECT_EQ(unknown.count, 4);
  EXPECT_NE(unknown.reason.find("available memory unknown"), std::string::npos) << unknown.reason;
}

TEST(AvailableMemory, MemAvailableIsReadInKibibytes) {
  const std::string meminfo =
      "MemTotal:       24576000 kB\n"
      "MemFree:         1000000 kB\n"
      "MemAvailable:   22020096 kB\n"
      "Buffers:           12345 kB\n";
  EXPECT_EQ(parse_mem_available(meminfo), std::uint64_t{22020096} * 1024);
  EXPECT_EQ(parse_mem_available("MemTotal: 1 kB\nMemFree: 1 kB\n"), std::nullopt);
}

class SingleThreadedWorkers : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(2); }  // the caller's count, which the workers must leave as it was
  void TearDown() override { at::set_num_threads(saved_); }

  const int saved_ = at::get_num_threads();
};

TEST_F(SingleThreadedWorkers, RunEveryIndexOnceOnOneAtenThreadAndRestoreTheCallersCount) {
  std::mutex mutex;
  std::multiset<std::size_t> indices;
  std::set<int> workers_seen, thread_counts;
  run_on_single_threaded_workers(40, 3, [&](std::size_t index, int worker) {
    std::lock_guard<std::mutex> lock(mutex);
    indices.insert(index);
    workers_seen.insert(worker);
    thread_counts.insert(at::get_num_threads());
  });
  std::multiset<std::size_t> expected;
  for (std::size_t i = 0; i < 40; ++i) expected.insert(i);
  EXPECT_EQ(indices, expected);
  EXPECT_EQ(thread_counts, std::set<int>{1});
  for (const int worker : workers_seen) EXPECT_TRUE(worker >= 0 && worker < 3) << worker;
  EXPECT_EQ(at::get_num_threads(), 2);
}

TEST_F(SingleThreadedWorkers, AFailureStopsTheIndicesNotYetStartedAndIsRethrownAsThrown) {
  std::mutex mutex;
  std::vector<std::size_t> started;
  auto task = [&](std::size_t index, int) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      started.push_back(index);
    }
    if (index == 2) throw std::invalid_argument("candidate 2 failed");
    // Long enough that the other worker cannot run through all the indices while the exception is thrown.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  };
  EXPECT_THROW(run_on_single_threaded_workers(200, 2, task), std::invalid_argument);
  // Index 2 and the few the other worker took before it saw the stop.
  EXPECT_LT(started.size(), 20u);
  EXPECT_EQ(at::get_num_threads(), 2);
}

}  // namespace
}  // namespace ladle::evolve
