// retain_freed_memory: a freed large block is served again from memory the process already has, so touching it
// a second time costs no page faults (glibc would otherwise unmap it on free and fault it in again), on the main
// thread and on a thread of its own.
#include "lib/util/malloc_tuning.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace ladle {
namespace {

long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Allocates `count` blocks of `bytes`, writes every byte of each, then frees them; returns the minor page faults this
// caused. The empty asm keeps the compiler from eliding the allocations.
long faults_of_touching_fresh_blocks(std::size_t count, std::size_t bytes) {
  const long before = minor_page_faults();
  std::vector<char*> blocks;
  for (std::size_t i = 0; i < count; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(bytes)));
    std::memset(blocks.back(), 1, bytes);
    asm volatile("" : : "g"(blocks.back()) : "memory");
  }
  for (char* block : blocks) std::free(block);
  return minor_page_faults() - before;
}

// Not under AddressSanitizer: its allocator replaces glibc's, whose settings retain_freed_memory changes.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
TEST(RetainFreedMemory, ReallocatingAFreedLargeBlockCausesNoPageFaults) {
  // 48 MiB is above glibc's largest adaptive mmap threshold (32 MiB): by default every such block is a fresh
  // mapping, 12,288 pages faulted in on every use.
  constexpr std::size_t bytes = std::size_t{48} << 20;
  retain_freed_memory();
  faults_of_touching_fresh_blocks(1, bytes);
  EXPECT_LT(faults_of_touching_fresh_blocks(1, bytes), 100);
}

TEST(RetainFreedMemory, LargeTensorsComeFromHugePageBlocksThatAreReused) {
  retain_freed_memory();
  constexpr std::int64_t elements = std::int64_t{16} << 20;  // 64 MiB of floats: above the 32 MiB threshold
  void* first = nullptr;
  {
    const at::Tensor block = at::empty({elements}, at::kFloat);
    first = block.data_ptr();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % (std::uintptr_t{2} << 20), 0u);
  }
  const at::Tensor again = at::empty({elements}, at::kFloat);
  EXPECT_EQ(again.data_ptr(), first);
}

// Measures the second pass of a thread that allocates three 30 MiB blocks twice; exits with status 0 when it caused
// no page faults. Three such blocks span two of a thread arena's 64 MiB heaps; glibc unmaps the second heap once it
// is free, so without M_ARENA_MAX 1 every pass faulted the second heap's 7,680 pages in again.
[[noreturn]] void exit_with_faults_of_a_threads_second_pass() {
  constexpr std::size_t bytes = std::size_t{30} << 20;
  retain_freed_memory();
  long second_pass = 0;
  std::thread thread([&] {
    faults_of_touching_fresh_blocks(3, bytes);
    second_pass = faults_of_touching_fresh_blocks(3, bytes);
  });
  thread.join();
  std::exit(second_pass < 100 ? 0 : 1);
}

TEST(RetainFreedMemory, AThreadReallocatingMoreThanOneArenaHeapCausesNoPageFaults) {
  // In a fresh process (the threadsafe death-test style re-executes this binary for the one test): a thread finished
  // earlier in this one, by another test, left an arena of its own that the new thread would take over.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(exit_with_faults_of_a_threads_second_pass(), ::testing::ExitedWithCode(0), ".*");
}
#endif

}  // namespace
}  // namespace ladle
