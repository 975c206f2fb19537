#include "lib/io/positioned_write.h"

#include <unistd.h>

#include <cerrno>

namespace ladle::io {

int write_fully_at(int fd, const void* data, std::size_t size, std::uint64_t offset,
                   const std::function<bool(int error)>& retry) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::pwrite(fd, bytes, size, static_cast<off_t>(offset));
    if (written < 0) {
      const int error = errno;
      if (error == EINTR || (retry && retry(error))) continue;
      return error;
    }
    bytes += written;
    offset += static_cast<std::uint64_t>(written);
    size -= static_cast<std::size_t>(written);
  }
  return 0;
}

}  // namespace ladle::io
