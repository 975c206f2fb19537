// OutputLock: one writer per output folder. Two ladle processes writing the same folder (two `ladle train` on one
// output_dir, two merges into one OUT) would interleave their files; the second one refuses instead, naming the
// first's pid. The lock is flock(2) on "<target>.lock" beside the target, so the kernel releases it when its
// process dies (a killed run never leaves a folder locked); the file itself is removed on release.
#pragma once

#include <cstddef>
#include <filesystem>

namespace ladle::io {

class OutputLock {
 public:
  // Takes the lock of `target` (which need not exist yet) or throws ladle::Error naming the target and the pid
  // of the process that holds it.
  explicit OutputLock(const std::filesystem::path& target);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  const std::filesystem::path& lock_file() const { return lock_file_; }

 private:
  std::filesystem::path lock_file_;
  int fd_ = -1;
};

// Removes the lock files in `directory` that no process holds: a killed writer leaves its "<target>.lock" behind
// (the kernel releases the lock, not the file), and a target that is never written again keeps it. Call it only
// while holding a lock that covers the whole folder (the trainer's run lock for its checkpoints), so no other
// writer can be taking one of these locks. Returns how many were removed.
std::size_t remove_stale_lock_files(const std::filesystem::path& directory);

}  // namespace ladle::io
