// Keeping freed memory for reuse: every training step allocates and frees the same large activation and gradient
// tensors. glibc's malloc by default serves blocks over its (adaptive) mmap threshold with fresh mappings and trims
// the heap when its free top grows past the trim threshold, so each step hands megabytes back to the system and
// then faults them in again, one page fault per 4 KiB (measured here on a 4M-parameter Llama step: 3.2x the page
// faults, and about 10% of the step's time, with the same peak memory). PyTorch's CPU performance guide makes the
// same point and suggests jemalloc or tcmalloc; tuning glibc needs no extra library.
#pragma once

namespace ladle::trainer {

// Sets glibc's M_MMAP_MAX to 0 (every block comes from the heap, where a freed block is reused) and M_TRIM_THRESHOLD
// to its maximum (the heap is never shrunk), for the whole process. The process then keeps its peak heap until it
// exits, which a training run reaches every step anyway. Does nothing with another C library.
void retain_freed_memory();

}  // namespace ladle::trainer
