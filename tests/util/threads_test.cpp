#include "lib/util/threads.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace ladle {
namespace {

class CallingThreadTensorThreads : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(2); }  // the process-wide count the calls below must leave alone
  void TearDown() override { at::set_num_threads(saved_); }

  const int saved_ = at::get_num_threads();
};

// The number of distinct ATen thread ids a parallel_for over many one-element chunks runs on in the calling thread.
int threads_used_by_parallel_for() {
  std::atomic<int> highest{0};
  at::parallel_for(0, 64, 1, [&](std::int64_t, std::int64_t) {
    int seen = highest.load();
    const int mine = at::get_thread_num() + 1;
    while (mine > seen && !highest.compare_exchange_weak(seen, mine)) {
    }
  });
  return highest.load();
}

TEST_F(CallingThreadTensorThreads, SetsTheCallingThreadsCountOnly) {
  int inside = 0, used_inside = 0;
  std::thread worker([&] {
    set_calling_thread_tensor_threads(1);
    inside = at::get_num_threads();
    used_inside = threads_used_by_parallel_for();
  });
  worker.join();
  EXPECT_EQ(inside, 1);
  EXPECT_EQ(used_inside, 1);
  // The caller, and a thread started afterwards, still get the process-wide count.
  EXPECT_EQ(at::get_num_threads(), 2);
  int later = 0;
  std::thread after([&] { later = at::get_num_threads(); });
  after.join();
  EXPECT_EQ(later, 2);
}

TEST_F(CallingThreadTensorThreads, AWorkerMaySwitchBetweenCounts) {
  int alone = 0, side_by_side = 0;
  std::thread worker([&] {
    set_calling_thread_tensor_threads(2);
    alone = at::get_num_threads();
    set_calling_thread_tensor_threads(1);
    side_by_side = at::get_num_threads();
  });
  worker.join();
  EXPECT_EQ(alone, 2);
  EXPECT_EQ(side_by_side, 1);
}

}  // namespace
}  // namespace ladle
