// The merge's CPU allocator: aligned huge-page blocks, reuse of freed blocks, and scoped installation.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "lib/merge/huge_page_allocator.h"

namespace ladle::merge {
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
}  // namespace ladle::merge
