#include "lib/io/positioned_read.h"

#include <unistd.h>

#include <cerrno>

namespace ladle::io {

PositionedRead read_fully_at(int fd, void* data, std::size_t size, std::uint64_t offset) {
  PositionedRead result;
  auto* bytes = static_cast<char*>(data);
  while (result.bytes < size) {
    const ssize_t got = ::pread(fd, bytes + result.bytes, size - result.bytes, static_cast<off_t>(offset + result.bytes));
    if (got < 0) {
      if (errno == EINTR) continue;
      result.error = errno;
      return result;
    }
    if (got == 0) return result;  // end of file
    result.bytes += static_cast<std::size_t>(got);
  }
  return result;
}

}  // namespace ladle::io
