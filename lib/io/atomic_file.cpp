#include "lib/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "lib/io/aligned_block_writer.h"
#include "lib/io/positioned_write.h"
#include "lib/log/log.h"
#include "lib/util/error.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

Error system_error(const fs::path& path, const char* action) {
  return Error(path.string() + ": cannot " + action + ": " + std::strerror(errno));
}

// "out/" and "out" name the same folder; the partial name is built from the last component.
fs::path without_trailing_separator(fs::path path) {
  if (!path.empty() && path.filename().empty()) path = path.parent_path();
  return path;
}

// Makes a rename inside `directory` durable.
void sync_directory(const fs::path& directory) {
  const int fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself already happened
  ::fsync(fd);
  ::close(fd);
}

void rename_or_throw(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    throw Error(to.string() + ": cannot rename " + from.string() + " onto it: " + std::strerror(errno));
  }
}

// The pid of a "<prefix><pid>" name, or -1 when the rest is not a plain positive number.
pid_t pid_after(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return static_cast<pid_t>(std::stol(digits));
}

bool process_is_running(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// Swaps the two names in one step (renameat2 with RENAME_EXCHANGE). Returns false when the file system cannot
// (EINVAL: some network and FUSE file systems; ENOSYS: a kernel before 3.15); throws on any other failure.
bool exchange_names(const fs::path& a, const fs::path& b) {
  if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) return true;
  if (errno == EINVAL || errno == ENOSYS) return false;
  throw Error(b.string() + ": cannot exchange it with " + a.string() + ": " + std::strerror(errno));
}

// Puts the folder `replacement` in place of the existing `target` and deletes the old one. With an exchange the
// target name holds the old or the new folder at every moment; the old one then sits under the replacement's
// ".partial-<pid>" name, where a kill before its removal leaves an ordinary leftover (remove_abandoned_partials).
// Without one, the old folder is renamed aside to "<target>.replaced.partial-<pid>" first: a kill between the two
// renames leaves no target, but both folders stay on disk.
void replace_folder(const fs::path& replacement, const fs::path& target) {
  fs::path old = replacement;
  if (!exchange_names(replacement, target)) {
    const int reason = errno;
    LADLE_LOG(debug) << target.string() << ": the file system cannot exchange two names (" << std::strerror(reason)
                     << "); replacing the folder in two renames";
    std::error_code error;
    old = partial_path_for(target.parent_path() / (target.filename().string() + ".replaced"));
    fs::remove_all(old, error);
    rename_or_throw(target, old);
    try {
      rename_or_throw(replacement, target);
    } catch (...) {
      std::rename(old.c_str(), target.c_str());  // put the old folder back
      throw;
    }
  }
  sync_directory(target.parent_path());  // the new folder is durably in place before the old one goes
  std::error_code error;
  fs::remove_all(old, error);
  if (error) {
    LADLE_LOG(warning) << old.string() << ": cannot remove the replaced folder: " << error.message();
  }
}

}  // namespace

std::size_t remove_abandoned_partials(const fs::path& target) {
  const fs::path clean = without_trailing_separator(target);
  const fs::path parent = clean.parent_path().empty() ? fs::path(".") : clean.parent_path();
  const std::string name = clean.filename().string();
  std::error_code error;
  std::vector<fs::path> abandoned;
  for (fs::directory_iterator it(parent, error), end; !error && it != end; it.increment(error)) {
    const std::string entry = it->path().filename().string();
    for (const std::string& prefix : {name + ".partial-", name + ".replaced.partial-"}) {
      const pid_t pid = pid_after(entry, prefix);
      if (pid > 0 && pid != ::getpid() && !process_is_running(pid)) abandoned.push_back(it->path());
    }
  }
  for (const auto& path : abandoned) {
    LADLE_LOG(warning) << "removing " << path.string() << ", left by an interrupted write (process gone)";
    fs::remove_all(path, error);
  }
  return abandoned.size();
}

fs::path partial_path_for(const fs::path& target) {
  fs::path clean = without_trailing_separator(target);
  return clean.parent_path() / (clean.filename().string() + ".partial-" + std::to_string(::getpid()));
}

AtomicFile::AtomicFile(fs::path target, FileWriteMode mode)
    : target_(without_trailing_separator(std::move(target))), partial_(partial_path_for(target_)) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  if (mode == FileWriteMode::kDirect) {
    fd_ = ::open(partial_.c_str(), kFlags | O_DIRECT, 0644);
    if (fd_ >= 0) direct_ = std::make_unique<AlignedBlockWriter>(fd_, partial_.string());
  }
  if (fd_ < 0 && (mode == FileWriteMode::kBuffered || errno == EINVAL)) fd_ = ::open(partial_.c_str(), kFlags, 0644);
  if (fd_ < 0) {
    throw Error(target_.string() + ": cannot create the temporary file " + partial_.filename().string() + ": " +
                std::strerror(errno));
  }
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : target_(std::move(other.target_)),
      partial_(std::move(other.partial_)),
      fd_(std::exchange(other.fd_, -1)),
      direct_(std::move(other.direct_)),
      end_(other.end_),
      committed_(std::exchange(other.committed_, true)) {}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(partial_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) { write_at(end_, data, size); }

void AtomicFile::write_at(std::uint64_t offset, const void* data, std::size_t size) {
  if (fd_ < 0) throw Error(partial_.string() + ": write after close");
  end_ = std::max(end_, offset + size);
  if (direct_) {
    direct_->write_at(offset, data, size);
    return;
  }
  if (const int error = write_fully_at(fd_, data, size, offset)) {
    errno = error;
    throw system_error(partial_, "write");
  }
}

void AtomicFile::close() {
  if (fd_ < 0) return;
  const int fd = std::exchange(fd_, -1);
  if (direct_) {
    try {
      std::exchange(direct_, nullptr)->finish();
    } catch (...) {
      ::close(fd);
      throw;
    }
  }
  if (::fsync(fd) != 0) {
    const Error error = system_error(partial_, "flush to disk");
    ::close(fd);
    throw error;
  }
  if (::close(fd) != 0) throw system_error(partial_, "close");
}

void AtomicFile::commit() { commit_as(target_); }

void AtomicFile::commit_as(const fs::path& target) {
  if (committed_) throw Error(target.string() + ": file was already committed");
  close();
  rename_or_throw(partial_, target);
  committed_ = true;
  sync_directory(target.parent_path());
}

void write_file_atomically(const fs::path& path, const std::string& contents) {
  AtomicFile file(path);
  file.write(contents.data(), contents.size());
  file.commit();
}

AtomicDirectory::AtomicDirectory(fs::path target, bool overwrite)
    : lock_(std::in_place, target),
      target_(without_trailing_separator(std::move(target))),
      partial_(partial_path_for(target_)),
      overwrite_(overwrite) {
  std::error_code error;
  if (!overwrite_ && fs::exists(fs::symlink_status(target_, error))) {
    throw Error(target_.string() + ": already exists (choose another folder or allow overwriting)");
  }
  // symlink_status sets `error` when the target does not exist; only create_directories' result counts here.
  error.clear();
  if (!target_.parent_path().empty()) fs::create_directories(target_.parent_path(), error);
  if (error) throw Error(target_.parent_path().string() + ": cannot create folder: " + error.message());
  remove_abandoned_partials(target_);
  // A leftover from an earlier process that had the same pid is ours to replace.
  fs::remove_all(partial_, error);
  if (!fs::create_directory(partial_, error)) {
    throw Error(partial_.string() + ": cannot create folder: " + error.message());
  }
}

AtomicDirectory::~AtomicDirectory() {
  if (committed_) return;
  std::error_code error;
  fs::remove_all(partial_, error);
  if (error) {
    LADLE_LOG(warning) << partial_.string() << ": cannot remove unfinished folder: " << error.message();
  }
}

void AtomicDirectory::commit() {
  if (committed_) throw Error(target_.string() + ": folder was already committed");
  std::error_code error;
  const bool target_exists = fs::exists(fs::symlink_status(target_, error));
  if (target_exists && !overwrite_) {
    throw Error(target_.string() + ": already exists (choose another folder or allow overwriting)");
  }
  if (target_exists) {
    replace_folder(partial_, target_);
  } else {
    rename_or_throw(partial_, target_);
    sync_directory(target_.parent_path());
  }
  committed_ = true;
  lock_.reset();
}

}  // namespace ladle::io
