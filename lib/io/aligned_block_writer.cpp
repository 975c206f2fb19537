#include "lib/io/aligned_block_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "lib/io/positioned_write.h"
#include "lib/util/error.h"

namespace ladle::io {

namespace {

constexpr std::uint64_t kBlock = kDirectIoAlignment;

// Some file systems accept O_DIRECT when the file is opened and refuse the first write (EINVAL, e.g. when their
// logical block is larger than our alignment). Clearing the flag sends the same aligned bytes through the page
// cache instead. False when the descriptor was not in direct mode, so the error is real.
bool leave_direct_io(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_DIRECT) == 0) return false;
  return ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) == 0;
}

char* allocate_aligned(std::size_t bytes) {
  void* memory = std::aligned_alloc(kDirectIoAlignment, bytes);
  if (memory == nullptr) throw std::bad_alloc();
  std::memset(memory, 0, bytes);
  return static_cast<char*>(memory);
}

}  // namespace

void AlignedBlockWriter::FreeAligned::operator()(char* memory) const { std::free(memory); }

AlignedBlockWriter::AlignedBlockWriter(int fd, std::string label) : fd_(fd), label_(std::move(label)) {}

AlignedBlockWriter::~AlignedBlockWriter() = default;

void AlignedBlockWriter::write_aligned(std::uint64_t offset, const char* aligned_data, std::size_t size) {
  // A short direct write ends on a block boundary; write_fully_at goes on from there.
  const int error = write_fully_at(fd_, aligned_data, size, offset,
                                   [this](int failure) { return failure == EINVAL && leave_direct_io(fd_); });
  if (error != 0) throw Error(label_ + ": cannot write: " + std::strerror(error));
}

void AlignedBlockWriter::add_to_block(std::uint64_t offset, const char* data, std::size_t size) {
  const std::uint64_t index = offset / kBlock;
  PendingBlock& block = pending_[index];
  if (!block.bytes) block.bytes = AlignedBuffer(allocate_aligned(kBlock));
  std::memcpy(block.bytes.get() + offset % kBlock, data, size);
  block.filled += size;
  if (block.filled == kBlock) {
    write_aligned(index * kBlock, block.bytes.get(), kBlock);
    pending_.erase(index);
  }
}

void AlignedBlockWriter::write_at(std::uint64_t offset, const void* data, std::size_t size) {
  if (size == 0) return;
  const auto* bytes = static_cast<const char*>(data);
  const std::uint64_t end = offset + size;
  end_ = std::max(end_, end);
  const std::uint64_t first_whole = (offset + kBlock - 1) / kBlock * kBlock;
  const std::uint64_t last_whole = end / kBlock * kBlock;
  if (first_whole >= last_whole) {
    // No whole block: the range lies in at most two blocks' edges.
    const std::uint64_t split = std::min(end, (offset / kBlock + 1) * kBlock);
    add_to_block(offset, bytes, split - offset);
    if (split < end) add_to_block(split, bytes + (split - offset), end - split);
    return;
  }
  if (offset < first_whole) add_to_block(offset, bytes, first_whole - offset);
  if (!bounce_) bounce_ = AlignedBuffer(allocate_aligned(kDirectWriteChunkBytes));
  for (std::uint64_t chunk = first_whole; chunk < last_whole; chunk += kDirectWriteChunkBytes) {
    const std::size_t count = std::min<std::uint64_t>(kDirectWriteChunkBytes, last_whole - chunk);
    std::memcpy(bounce_.get(), bytes + (chunk - offset), count);
    write_aligned(chunk, bounce_.get(), count);
  }
  if (last_whole < end) add_to_block(last_whole, bytes + (last_whole - offset), end - last_whole);
}

void AlignedBlockWriter::finish() {
  for (const auto& [index, block] : pending_) write_aligned(index * kBlock, block.bytes.get(), kBlock);
  pending_.clear();
  if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) {
    throw Error(label_ + ": cannot set the file's size: " + std::strerror(errno));
  }
}

}  // namespace ladle::io
