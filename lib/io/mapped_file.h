// A read-only view of a whole file through mmap, released when the object is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace ladle::io {

// Maps the file copy-on-write (MAP_PRIVATE with PROT_READ | PROT_WRITE): tensors handed out as zero-copy views
// into the mapping are writable like any tensor, and a write only changes this process's private copy of the
// page; it never reaches the file and never faults. The file stays open while the object lives: descriptor() is
// for pread(2) of the same bytes (SafetensorsReader::read_tensor reads each tensor once in slices, and opening the
// file again for each slice put path lookups, open and close at 3% of `ladle posthoc-ema`'s profile).
class MappedFile {
 public:
  // Throws ladle::Error naming the path when the file cannot be opened or mapped (with the system's reason)
  // or is empty (mmap cannot map zero bytes, and no valid checkpoint file is empty).
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::uint8_t* data() const { return data_; }
  std::uint8_t* mutable_data() const { return data_; }  // private copy-on-write pages
  std::size_t size() const { return size_; }
  int descriptor() const { return fd_; }  // open read-only, for positioned reads

 private:
  std::filesystem::path path_;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;
};

}  // namespace ladle::io
