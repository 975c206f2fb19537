#include "trainer/malloc_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>

#include <climits>
#endif

namespace ladle::trainer {

void retain_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

}  // namespace ladle::trainer
