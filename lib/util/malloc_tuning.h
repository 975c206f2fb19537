// Keeping freed memory for reuse: a training step, and a held-out evaluation batch, allocates and frees the same
// large activation tensors again and again. glibc's malloc by default serves blocks over its (adaptive) mmap
// threshold with fresh mappings and trims the heap when its free top grows past the trim threshold, so each step
// hands megabytes back to the system and then faults them in again, one page fault per 4 KiB (measured here on a
// 4M-parameter Llama step: 3.2x the page faults, and about 10% of the step's time, with the same peak memory).
// PyTorch's CPU performance guide makes the same point and suggests jemalloc or tcmalloc; tuning glibc needs no
// extra library.
//
// Threads need one more setting. glibc gives a thread other than the main one an arena of its own, made of 64 MiB
// heaps, and deletes (unmaps) such a heap as soon as all of it is free, whatever the trim threshold (glibc's
// malloc/arena.c, heap_trim): a thread whose working set spans more than one heap, as `ladle evolve`'s scoring
// workers do (a batch's logits alone are 33 MiB), faulted its memory in again on every batch (31% of the run's
// samples under page faults). So every thread shares the main arena, which is only ever trimmed by the threshold.
//
// The largest blocks are the exception. With every block in one heap, the large transients of a step (the logits
// of a large vocabulary, their log-softmax and gradient: 311 MB each in a LoRA step of the Qwen3-0.6B-shaped model)
// left holes that the smaller ones only partly refilled, and that step peaked 0.64 GiB (9%) above the same run with
// glibc's defaults. So blocks of 32 MiB and more that libtorch allocates come from huge pages of their own
// (lib/util/huge_page_allocator.h), freed ones kept, up to 1 GiB, for the next request of about their size (the
// next step's): no holes among the small blocks, and no faults either.
//
// The merge engine goes the other way: it runs once through large temporaries, and hands their pages back after
// every tensor (release_freed_memory) so that `ladle merge` stays within its memory bound. Inside a process that
// retains freed memory, as `ladle evolve` is (a merge, then a scoring, for every candidate), that release undid the
// tuning: the scoring faulted its whole working set in again after every merge. So the release yields to the
// retention.
#pragma once

namespace ladle {

// Sets glibc's M_MMAP_MAX to 0 (every block comes from the heap, where a freed block is reused), M_TRIM_THRESHOLD to
// its maximum (the heap is never shrunk) and M_ARENA_MAX to 1 (threads allocate from the main heap too), and
// installs a HugePageCpuAllocator for libtorch's CPU blocks of 32 MiB and more (1 GiB of freed ones kept), for the
// whole process. The process then keeps its peak heap until it exits, which a training run or a search reaches
// every step anyway. Call it before the process starts its worker threads: a thread that already has an arena of
// its own, or takes one a finished thread left, keeps using it. Does nothing with another C library.
void retain_freed_memory();

// Hands the pages of freed heap memory back to the system now (glibc's malloc_trim), unless retain_freed_memory()
// was called in this process, in which case it does nothing. Does nothing with another C library.
void release_freed_memory();

}  // namespace ladle
