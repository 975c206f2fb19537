// The CPU allocator of large blocks: aligned huge-page blocks, the size below which requests go to the fallback,
// reuse of freed blocks, the raw interface, and scoped installation.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "lib/util/huge_page_allocator.h"

namespace ladle {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(HugePageAllocator, LargeBlocksStartOnA2MiBBoundaryAndAreWritable) {
  HugePageCpuAllocator allocator(c10::GetCPUAllocator(), 0);
  c10::DataPtr block = allocator.allocate(5 * kMiB + 3);
  ASSERT_NE(block.get(), nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block.get()) % (2 * kMiB), 0u);
  std::memset(block.get(), 0x5a, 5 * kMiB + 3);
  EXPECT_EQ(static_cast<unsigned char*>(block.get())[5 * kMiB + 2], 0x5a);
}

TEST(HugePageAllocator, FreedBlockIsReusedForARequestOfAboutItsSize) {
  HugePageCpuAllocator allocator(c10::GetCPUAllocator(), 64 * kMiB);
  void* first = nullptr;
  {
    c10::DataPtr block = allocator.allocate(8 * kMiB);
    first = block.get();
  }
  c10::DataPtr again = allocator.allocate(8 * kMiB - 100);
  EXPECT_EQ(again.get(), first);
  c10::DataPtr much_smaller = allocator.allocate(4 * kMiB);
  EXPECT_NE(much_smaller.get(), first);
}

TEST(HugePageAllocator, RequestsBelowTheMinimumGoToTheFallback) {
  HugePageCpuAllocator allocator(c10::GetDefaultCPUAllocator(), 0, 32 * kMiB);
  c10::DataPtr small = allocator.allocate(32 * kMiB - 1);
  c10::DataPtr large = allocator.allocate(32 * kMiB);
  EXPECT_NE(small.get_deleter(), allocator.raw_deleter());
  EXPECT_EQ(large.get_deleter(), allocator.raw_deleter());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(large.get()) % (2 * kMiB), 0u);
}

TEST(HugePageAllocator, RawAllocationsOfEitherKindAreFreedByItsRawDeleter) {
  HugePageCpuAllocator allocator(c10::GetDefaultCPUAllocator(), 16 * kMiB);
  void* large = allocator.raw_allocate(8 * kMiB);
  void* small = allocator.raw_allocate(1000);
  std::memset(large, 1, 8 * kMiB);
  std::memset(small, 1, 1000);
  allocator.raw_deallocate(large);
  allocator.raw_deallocate(small);
  // Freed into the pool: the next block of about its size is the same one.
  EXPECT_EQ(allocator.raw_allocate(8 * kMiB), large);
  allocator.raw_deallocate(large);
  // What the default allocator allocated raw before this one was installed (oneDNN's scratch memory) is freed by it.
  void* earlier = c10::GetDefaultCPUAllocator()->raw_allocate(64);
  allocator.raw_deallocate(earlier);
}

TEST(HugePageAllocator, ScopedInstallationServesTensorsAndRestoresThePreviousAllocator) {
  c10::Allocator* before = c10::GetCPUAllocator();
  at::Tensor survivor;
  {
    const ScopedHugePageCpuAllocator scoped(16 * kMiB);
    EXPECT_NE(c10::GetCPUAllocator(), before);
    survivor = at::full({3 * static_cast<std::int64_t>(kMiB)}, 2.5f);  // 12 MiB: a huge-page block
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(survivor.data_ptr()) % (2 * kMiB), 0u);
  }
  EXPECT_EQ(c10::GetCPUAllocator(), before);
  EXPECT_EQ(survivor.sum().item<double>(), 2.5 * 3 * kMiB);  // still valid after the scope
  survivor = at::Tensor();                                    // frees into a closed pool: unmapped
}

}  // namespace
}  // namespace ladle
