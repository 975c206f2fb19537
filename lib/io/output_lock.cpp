#include "lib/io/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "lib/log/log.h"
#include "lib/util/error.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

fs::path lock_file_for(const fs::path& target) {
  fs::path clean = target;
  if (!clean.empty() && clean.filename().empty()) clean = clean.parent_path();
  return clean.parent_path() / (clean.filename().string() + ".lock");
}

// The pid the holder wrote into the lock file, as text ("unknown" while it has not written it yet).
std::string holder_pid(int fd) {
  char buffer[32] = {};
  const ssize_t got = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  return got > 0 ? std::string(buffer, static_cast<std::size_t>(got)) : "unknown";
}

// Whether `fd` is still the file at `path`: a releasing holder unlinks the file, and a process that opened it
// just before would otherwise lock an orphaned inode while a third process creates and locks a new file.
bool still_linked(int fd, const fs::path& path) {
  struct stat opened {};
  struct stat named {};
  return ::fstat(fd, &opened) == 0 && ::stat(path.c_str(), &named) == 0 && opened.st_ino == named.st_ino &&
         opened.st_dev == named.st_dev;
}

}  // namespace

OutputLock::OutputLock(const fs::path& target) : lock_file_(lock_file_for(target)) {
  std::error_code error;
  if (!lock_file_.parent_path().empty()) fs::create_directories(lock_file_.parent_path(), error);
  while (true) {
    fd_ = ::open(lock_file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(lock_file_.string() + ": cannot create the lock file: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int cause = errno;
      const std::string pid = cause == EWOULDBLOCK ? holder_pid(fd_) : "";
      ::close(fd_);
      fd_ = -1;
      if (cause != EWOULDBLOCK) throw Error(lock_file_.string() + ": cannot lock: " + std::strerror(cause));
      throw Error(target.string() + ": another ladle process (pid " + pid +
                  ") is writing it; wait for it to finish or choose another folder");
    }
    if (still_linked(fd_, lock_file_)) break;
    ::close(fd_);  // the holder released and removed it between our open and flock: take the new file
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int cause = errno;
    ::unlink(lock_file_.c_str());
    ::close(fd_);
    throw Error(lock_file_.string() + ": cannot write the lock file: " + std::strerror(cause));
  }
}

OutputLock::~OutputLock() {
  ::unlink(lock_file_.c_str());  // while still holding the lock, so no one else's file is removed
  ::close(fd_);
}

std::size_t remove_stale_lock_files(const fs::path& directory) {
  std::size_t removed = 0;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const fs::path& path = it->path();
    if (path.extension() != ".lock" || !it->is_regular_file()) continue;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && still_linked(fd, path)) {
      ::unlink(path.c_str());  // while holding it, as a releasing holder does
      ++removed;
      LADLE_LOG(debug) << "removed " << path.string() << ", left by a writer that was killed";
    }
    ::close(fd);
  }
  return removed;
}

}  // namespace ladle::io
