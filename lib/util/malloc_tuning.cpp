#include "lib/util/malloc_tuning.h"

// <climits> comes first because it brings in the C library's <features.h>, which is what defines __GLIBC__: tested
// before any system header, the macro is undefined and this file silently compiled to an empty function.
#include <atomic>
#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ladle {
namespace {

std::atomic<bool> retaining{false};

}  // namespace

void retain_freed_memory() {
  retaining = true;
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
