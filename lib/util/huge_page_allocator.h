// A CPU allocator for large, short-lived tensors: huge pages, and freed blocks kept for reuse.
//
// A merge allocates and frees many tensors of tens to hundreds of MB (working-dtype copies of bf16 inputs, task
// vectors, masks, results), mostly of a few shapes that repeat layer after layer. Through glibc each is mapped
// afresh and the kernel faults it in and zeroes it 4 KiB at a time: in a linear merge of 4 bf16 models this was
// 1.4 million page faults, and zeroing pages (clear_page) was 38% of the profile. Here a block of at least
// kHugePageAllocationBytes is mapped 2 MiB-aligned and advised MADV_HUGEPAGE (this machine kind's
// transparent_hugepage setting is "madvise"), so one fault maps 2 MiB; and when freed it is kept, up to a byte
// limit, for the next request of about its size, which then costs neither faults nor zeroing. Blocks beyond the
// limit are unmapped. Smaller requests go to the allocator that was installed before.
//
// Training installs one too, for blocks of 32 MiB and more (the logits of a large vocabulary, their log-softmax and
// gradient, oneDNN's reordered weights). A training run keeps freed heap memory for reuse (lib/util/malloc_tuning.h),
// and glibc then serves every block from one heap, where the large transients of a step left holes the smaller ones
// only partly refilled: a LoRA step of the Qwen3-0.6B-shaped model peaked at 7.78 GiB, 0.64 GiB above the same run
// with glibc's defaults and 0.76 GiB above one whose blocks of 32 MiB and more glibc mapped on their own; with this
// allocator for those blocks, 7.33 GiB.
//
// The raw interface (Allocator::raw_allocate / raw_deallocate, which oneDNN uses for its scratch memory) is
// supported: a block's deleter context is its address, and the deleter hands addresses that are not huge-page blocks
// to the default CPU allocator's raw deleter (where every fallback chain ends), so memory allocated raw before the
// installation can be freed during it.
#pragma once

#include <c10/core/Allocator.h>

#include <cstddef>
#include <memory>

namespace ladle {

inline constexpr std::size_t kHugePageAllocationBytes = std::size_t{4} << 20;

class HugePageBlockPool;

class HugePageCpuAllocator : public c10::Allocator {
 public:
  // `fallback` serves requests below `min_bytes` (and any when mmap fails); at most `cache_bytes` of freed blocks
  // are kept for reuse.
  HugePageCpuAllocator(c10::Allocator* fallback, std::size_t cache_bytes,
                       std::size_t min_bytes = kHugePageAllocationBytes);
  ~HugePageCpuAllocator() override;
  c10::DataPtr allocate(std::size_t bytes) const override;
  c10::DeleterFnPtr raw_deleter() const override;

 private:
  c10::Allocator* fallback_;
  std::size_t min_bytes_;
  std::shared_ptr<HugePageBlockPool> pool_;  // shared with every block, which may outlive the allocator
};

// Installs a HugePageCpuAllocator as libtorch's CPU allocator for its lifetime, then restores the previous one and
// unmaps the cached blocks. Process-wide: create it on the thread that starts the tensor work, before any worker
// starts, and destroy it after they have finished. Tensors allocated meanwhile stay valid afterwards.
class ScopedHugePageCpuAllocator {
 public:
  explicit ScopedHugePageCpuAllocator(std::size_t cache_bytes, std::size_t min_bytes = kHugePageAllocationBytes);
  ~ScopedHugePageCpuAllocator();
  ScopedHugePageCpuAllocator(const ScopedHugePageCpuAllocator&) = delete;
  ScopedHugePageCpuAllocator& operator=(const ScopedHugePageCpuAllocator&) = delete;

 private:
  c10::Allocator* previous_;
  HugePageCpuAllocator allocator_;
};

}  // namespace ladle
