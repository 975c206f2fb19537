#include "trainer/malloc_tuning.h"

// <climits> comes first because it brings in the C library's <features.h>, which is what defines __GLIBC__: tested
// before any system header, the macro is undefined and this file silently compiled to an empty function.
#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ladle::trainer {

void retain_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

}  // namespace ladle::trainer
