#include "lib/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "lib/util/error.h"

namespace ladle::io {
namespace {

std::string system_error(const std::filesystem::path& path, const char* action) {
  return path.string() + ": cannot " + action + ": " + std::strerror(errno);
}

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(system_error(path, "open"));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const std::string message = system_error(path, "stat");
    ::close(fd);
    throw Error(message);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error(path.string() + ": not a regular file");
  }
  if (info.st_size == 0) {
    ::close(fd);
    throw Error(path.string() + ": file is empty");
  }
  size_ = static_cast<std::size_t>(info.st_size);
  void* mapping = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  if (mapping == MAP_FAILED) {
    ::close(fd);
    errno = mmap_errno;
    throw Error(system_error(path, "map"));
  }
  data_ = static_cast<std::uint8_t*>(mapping);
  fd_ = fd;
}

MappedFile::~MappedFile() {
  ::munmap(data_, size_);
  ::close(fd_);
}

}  // namespace ladle::io
