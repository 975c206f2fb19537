// retain_freed_memory: a freed large block is served again from memory the process already has, so touching it
// a second time costs no page faults (glibc would otherwise unmap it on free and fault it in again).
#include "trainer/malloc_tuning.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

namespace ladle::trainer {
namespace {

long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Allocates `bytes`, writes every byte and frees the block; returns the minor page faults this caused. The empty
// asm keeps the compiler from eliding the allocation.
long faults_of_touching_a_fresh_block(std::size_t bytes) {
  const long before = minor_page_faults();
  char* block = static_cast<char*>(std::malloc(bytes));
  std::memset(block, 1, bytes);
  asm volatile("" : : "g"(block) : "memory");
  std::free(block);
  return minor_page_faults() - before;
}

// Not under AddressSanitizer: its allocator replaces glibc's, whose settings retain_freed_memory changes.
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
TEST(RetainFreedMemory, ReallocatingAFreedLargeBlockCausesNoPageFaults) {
  // 48 MiB is above glibc's largest adaptive mmap threshold (32 MiB): by default every such block is a fresh
  // mapping, 12,288 pages faulted in on every use.
  constexpr std::size_t bytes = std::size_t{48} << 20;
  retain_freed_memory();
  faults_of_touching_a_fresh_block(bytes);
  EXPECT_LT(faults_of_touching_a_fresh_block(bytes), 100);
}
#endif

}  // namespace
}  // namespace ladle::trainer
