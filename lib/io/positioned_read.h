// Reading a whole byte range at a file offset with pread(2), which may return fewer bytes than asked (a signal) or
// fail with EINTR: both are continued until every byte is read or the file ends.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ladle::io {

struct PositionedRead {
  std::size_t bytes = 0;  // bytes read: fewer than asked only when the file ended first (or on an error)
  int error = 0;          // 0, or the errno of the read that failed
};

// Reads `size` bytes at `offset` of `fd` into `data`.
PositionedRead read_fully_at(int fd, void* data, std::size_t size, std::uint64_t offset);

}  // namespace ladle::io
