// Writing files and folders so that readers only ever see complete ones: everything is written under a
// temporary "<target>.partial-<pid>" name in the same directory and renamed onto the target at the end
// (rename is atomic within a file system). An interrupted write leaves at most a ".partial-<pid>" leftover,
// never something that looks finished.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "lib/io/output_lock.h"

namespace ladle::io {

// "<target>.partial-<pid>", beside the target.
std::filesystem::path partial_path_for(const std::filesystem::path& target);

// Removes the leftovers of killed writes of `target` beside it ("<target>.partial-<pid>" and the aside name
// "<target>.replaced.partial-<pid>") whose process no longer runs, logging each; returns how many. A leftover of
// a live process (another writer of the same target) is left alone.
std::size_t remove_abandoned_partials(const std::filesystem::path& target);

// Writes the bytes to <path>.partial-<pid>, fsyncs, and renames onto `path` (replacing an existing file).
// Throws ladle::Error naming the path on failure, after removing the partial file.
void write_file_atomically(const std::filesystem::path& path, const std::string& contents);

class AlignedBlockWriter;

// How an AtomicFile's bytes reach the disk.
enum class FileWriteMode {
  kBuffered,  // through the page cache (write(2)), as most files are
  // With O_DIRECT, bypassing the page cache (lib/io/aligned_block_writer.h says why), for large files that are
  // written once; on a file system that refuses O_DIRECT (it fails the open with EINVAL), buffered.
  kDirect,
};

// A file written piece by piece under the partial name, published by commit(); the destructor removes it if
// it was never committed.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target, FileWriteMode mode = FileWriteMode::kBuffered);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& partial_path() const { return partial_; }

  // Appends after the furthest byte written so far.
  void write(const void* data, std::size_t size);
  // Writes at a byte offset, in any order (each byte at most once in kDirect mode); a gap reads as zeros.
  void write_at(std::uint64_t offset, const void* data, std::size_t size);
  // Flushes to disk (fsync) and closes; the file stays under its partial name. Called by commit().
  void close();
  // close() then rename onto target().
  void commit();
  // close() then rename onto another path in the same directory (when the final name is known only later).
  void commit_as(const std::filesystem::path& target);

 private:
  std::filesystem::path target_;
  std::filesystem::path partial_;
  int fd_ = -1;
  std::unique_ptr<AlignedBlockWriter> direct_;  // set when the file was opened with O_DIRECT
  std::uint64_t end_ = 0;                       // end of the furthest byte written
  bool committed_ = false;
};

// A folder built under "<target>.partial-<pid>" and renamed onto the target by commit(). The destructor
// removes the partial folder when commit() was not called.
class AtomicDirectory {
 public:
  // Creates the partial folder (replacing a stale one with the same name) and the target's parent folders, and
  // removes the abandoned partial folders of earlier, killed writes of the same target (remove_abandoned_partials).
  // Throws ladle::Error when another process is writing the same target (OutputLock).
  // Throws ladle::Error when the target exists and overwrite is false, so no work is wasted on a write that
  // commit() would refuse.
  explicit AtomicDirectory(std::filesystem::path target, bool overwrite = false);
  ~AtomicDirectory();
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  const std::filesystem::path& target() const { return target_; }
  // Where to write the folder's contents until commit().
  const std::filesystem::path& path() const { return partial_; }

  // Renames the partial folder onto the target. If the target exists: throws ladle::Error unless overwrite,
  // in which case the two exchange names in one step (renameat2 RENAME_EXCHANGE: the target is old or new at every
  // moment) and the old one is deleted; where a file system cannot exchange, it is renamed aside first.
  void commit();

 private:
  std::optional<OutputLock> lock_;  // one writer per target, until commit()
  std::filesystem::path target_;
  std::filesystem::path partial_;
  bool overwrite_;
  bool committed_ = false;
};

}  // namespace ladle::io
