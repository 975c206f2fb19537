#include "lib/util/huge_page_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>

namespace ladle {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t round_up(std::size_t value, std::size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// A fresh 2 MiB-aligned mapping of `length` bytes (a multiple of kHugePage) advised for huge pages, or nullptr.
void* map_aligned(std::size_t length) {
  // Map one huge page more than needed, then unmap the unaligned head and the tail: the kernel backs only aligned
  // 2 MiB ranges with huge pages.
  void* mapped = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return nullptr;
  const auto address = reinterpret_cast<std::uintptr_t>(mapped);
  const std::uintptr_t aligned = round_up(address, kHugePage);
  if (aligned > address) munmap(mapped, aligned - address);
  const std::uintptr_t end = address + length + kHugePage;
  if (end > aligned + length) munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
  void* start = reinterpret_cast<void*>(aligned);
  madvise(start, length, MADV_HUGEPAGE);
  return start;
}

}  // namespace

// Freed blocks by length, kept for reuse up to a byte limit; thread-safe.
class HugePageBlockPool {
 public:
  explicit HugePageBlockPool(std::size_t limit) : limit_(limit) {}

  // A kept block of `length` to 1.25 × `length` bytes (so small requests do not pin large blocks), or nullptr.
  // A miss also unmaps the kept blocks smaller than `length`: the work has moved on to larger tensors (a merge's
  // largest, the embeddings and lm_head, come first and last), and idle blocks would only add to its peak.
  void* take(std::size_t length, std::size_t& block_length) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = free_.lower_bound(length);
    if (found == free_.end() || found->first > length + length / 4) {
      for (auto block = free_.begin(); block != free_.end() && block->first < length;) {
        munmap(block->second, block->first);
        cached_ -= block->first;
        block = free_.erase(block);
      }
      return nullptr;
    }
    block_length = found->first;
    void* start = found->second;
    cached_ -= found->first;
    free_.erase(found);
    return start;
  }

  // Keeps the block when the pool is open and has room, else unmaps it.
  void give_back(void* start, std::size_t length) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (open_ && cached_ + length <= limit_) {
        free_.emplace(length, start);
        cached_ += length;
        return;
      }
    }
    munmap(start, length);
  }

  // Unmaps every kept block; blocks freed later are unmapped at once.
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [length, start] : free_) munmap(start, length);
    free_.clear();
    cached_ = 0;
    open_ = false;
  }

 private:
  std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;  // length -> start
  std::size_t cached_ = 0;
  std::size_t limit_;
  bool open_ = true;
};

namespace {

// The blocks handed out and not yet freed, by address: a block's deleter context is its address (c10's raw interface
// requires that), so its length and pool are found here.
class LiveBlocks {
 public:
  void add(void* start, std::size_t length, std::shared_ptr<HugePageBlockPool> pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    blocks_.emplace(start, Entry{length, std::move(pool)});
  }

  // Gives the block back to its pool; false when `start` is not a live block.
  bool free(void* start) {
    Entry entry;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto found = blocks_.find(start);
      if (found == blocks_.end()) return false;
      entry = std::move(found->second);
      blocks_.erase(found);
    }
    entry.pool->give_back(start, entry.length);
    return true;
  }

 private:
  struct Entry {
    std::size_t length = 0;
    std::shared_ptr<HugePageBlockPool> pool;
  };
  std::mutex mutex_;
  std::unordered_map<void*, Entry> blocks_;
};

// Never destroyed: tensors may be freed while the process exits.
LiveBlocks& live_blocks() {
  static auto* blocks = new LiveBlocks;
  return *blocks;
}

void free_block(void* start) {
  if (!live_blocks().free(start)) c10::GetDefaultCPUAllocator()->raw_deleter()(start);
}

}  // namespace

HugePageCpuAllocator::HugePageCpuAllocator(c10::Allocator* fallback, std::size_t cache_bytes, std::size_t min_bytes)
    : fallback_(fallback), min_bytes_(min_bytes), pool_(std::make_shared<HugePageBlockPool>(cache_bytes)) {}

HugePageCpuAllocator::~HugePageCpuAllocator() { pool_->close(); }

c10::DataPtr HugePageCpuAllocator::allocate(std::size_t bytes) const {
  if (bytes < min_bytes_) return fallback_->allocate(bytes);
  const std::size_t wanted = round_up(bytes, kHugePage);
  std::size_t length = wanted;
  void* start = pool_->take(wanted, length);
  if (start == nullptr) start = map_aligned(wanted);
  if (start == nullptr) return fallback_->allocate(bytes);
  try {
    live_blocks().add(start, length, pool_);
  } catch (...) {
    pool_->give_back(start, length);
    throw;
  }
  return {start, start, &free_block, c10::Device(c10::DeviceType::CPU)};
}

c10::DeleterFnPtr HugePageCpuAllocator::raw_deleter() const { return &free_block; }

ScopedHugePageCpuAllocator::ScopedHugePageCpuAllocator(std::size_t cache_bytes, std::size_t min_bytes)
    : previous_(c10::GetCPUAllocator()), allocator_(previous_, cache_bytes, min_bytes) {
  c10::SetCPUAllocator(&allocator_);
}

ScopedHugePageCpuAllocator::~ScopedHugePageCpuAllocator() { c10::SetCPUAllocator(previous_); }

}  // namespace ladle
