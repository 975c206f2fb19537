#include "lib/util/malloc_tuning.h"

// <climits> comes first because it brings in the C library's <features.h>, which is what defines __GLIBC__: tested
// before any system header, the macro is undefined and this file silently compiled to an empty function.
#include <atomic>
#include <climits>

#include <c10/core/CPUAllocator.h>

#include "lib/util/huge_page_allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ladle {
namespace {

std::atomic<bool> retaining{false};

constexpr std::size_t kLargeBlockBytes = std::size_t{32} << 20;
constexpr std::size_t kLargeBlockCacheBytes = std::size_t{1} << 30;

// Installed once for the rest of the process (a function-local static is initialised once, thread-safely), over the
// allocator installed before; never destroyed, since its blocks may be freed while the process exits.
void install_large_block_allocator() {
  static auto* const allocator = [] {
    auto* large_blocks = new HugePageCpuAllocator(c10::GetCPUAllocator(), kLargeBlockCacheBytes, kLargeBlockBytes);
    c10::SetCPUAllocator(large_blocks);
    return large_blocks;
  }();
  (void)allocator;
}

}  // namespace

void retain_freed_memory() {
  retaining = true;
  install_large_block_allocator();
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  mallopt(M_ARENA_MAX, 1);
#endif
}

void release_freed_memory() {
#if defined(__GLIBC__)
  if (!retaining) malloc_trim(0);
#endif
}

}  // namespace ladle
