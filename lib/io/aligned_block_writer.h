// Writes byte ranges of a file opened with O_DIRECT, in any order, as whole aligned blocks.
//
// Direct I/O moves data from this process's memory to the disk without copying it into the page cache. For a
// merge's output that matters: every page-cache page a buffered write fills is memory the kernel must find and
// the (virtual) machine must back, and copying into fresh pages was 30-40% of a merge's CPU time on the project's
// machine kind, while the page cache then holds gigabytes that are only read again if the model is loaded soon.
// O_DIRECT needs the memory address, file offset and length of every write aligned to the device's block size:
// ranges are copied into an aligned bounce buffer, written in chunks of kDirectWriteChunkBytes, and the blocks at
// a range's edges are kept until the neighbouring ranges have filled them (or until finish()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace ladle::io {

// Alignment of direct writes: 4 KiB covers every logical block size and memory alignment Linux asks for.
inline constexpr std::size_t kDirectIoAlignment = 4096;
// Bytes copied and written per direct write: large enough that each write's latency is small against its transfer.
inline constexpr std::size_t kDirectWriteChunkBytes = std::size_t{8} << 20;

class AlignedBlockWriter {
 public:
  // `fd` is open for writing with O_DIRECT and stays owned by the caller; `label` names the file in errors.
  AlignedBlockWriter(int fd, std::string label);
  ~AlignedBlockWriter();
  AlignedBlockWriter(const AlignedBlockWriter&) = delete;
  AlignedBlockWriter& operator=(const AlignedBlockWriter&) = delete;

  // Writes `size` bytes at `offset`. Every byte of the file is to be written at most once; blocks are written as
  // soon as all their bytes are known. Throws ladle::Error naming the file when a write fails.
  void write_at(std::uint64_t offset, const void* data, std::size_t size);
  // Writes the blocks still incomplete (their unwritten bytes as zeros) and cuts the file to the end of the
  // furthest range written.
  void finish();

 private:
  struct FreeAligned {
    void operator()(char* memory) const;
  };
  using AlignedBuffer = std::unique_ptr<char[], FreeAligned>;
  struct PendingBlock {
    AlignedBuffer bytes;
    std::size_t filled = 0;
  };

  // Copies bytes that lie within one block into its pending copy; writes the block once it is full.
  void add_to_block(std::uint64_t offset, const char* data, std::size_t size);
  void write_aligned(std::uint64_t offset, const char* aligned_data, std::size_t size);

  int fd_;
  std::string label_;
  AlignedBuffer bounce_;                            // kDirectWriteChunkBytes, allocated at the first whole block
  std::map<std::uint64_t, PendingBlock> pending_;  // block index -> the bytes known so far
  std::uint64_t end_ = 0;                           // end of the furthest range written
};

}  // namespace ladle::io
