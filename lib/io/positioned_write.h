// Writing a whole byte range at a file offset with pwrite(2), which may write less than asked (a signal, a full
// pipe of the page cache, the end of a direct-I/O block) or fail with EINTR: both are continued until every byte is
// written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace ladle::io {

// Writes `size` bytes of `data` at `offset` of `fd`. Returns 0 when all are written, else the errno of the write
// that failed. A failure other than EINTR is first offered to `retry` (when given): it may fix the cause and
// return true to try the same write again (AlignedBlockWriter leaves direct I/O when a file system refuses it).
int write_fully_at(int fd, const void* data, std::size_t size, std::uint64_t offset,
                   const std::function<bool(int error)>& retry = {});

}  // namespace ladle::io
