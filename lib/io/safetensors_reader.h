// Reads one safetensors file through a memory map: the header is validated on open (see
// lib/io/safetensors_header.h) and tensors are handed out as zero-copy views where alignment allows.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/io/safetensors_header.h"

namespace ladle::io {

class MappedFile;

// A tensor's bytes inside the mapping, exactly as stored (little-endian).
struct ByteRange {
  const std::uint8_t* data;
  std::size_t size;
};

class SafetensorsReader {
 public:
  // Maps and validates the file; throws ladle::Error naming the path for any malformed header.
  explicit SafetensorsReader(const std::filesystem::path& path);
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorEntry>& entries() const { return header_.tensors; }  // file order
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }

  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws ladle::Error naming the file and the tensor when it is absent.
  const TensorEntry& entry(const std::string& name) const;

  // A CPU tensor with the stored dtype and shape. When the data is aligned to the element size (always, for
  // files ladle writes) it is a zero-copy view into the mapping that keeps the mapping alive on its own, so
  // it may outlive the reader; writing into it changes only this process's copy-on-write pages, never the
  // file. Unaligned data is copied. BOOL data must be 0 or 1 (libtorch assumes so). Throws ladle::Error for
  // dtypes libtorch 1.13 lacks (F8_E5M2, F8_E4M3, U16, U32, U64): use raw_bytes() for those.
  at::Tensor tensor(const std::string& name) const;

  // The tensor, or its rows [first_row, first_row + row_count) (all rows from first_row when row_count < 0), in
  // memory of its own, the bytes copied out of the file with pread(2) into memory from libtorch's CPU allocator.
  // For code that reads each tensor once and moves on, as the merge engine does: on the virtual machines we
  // measured, the first touch of a mapped page-cache page cost 3 to 10 times what copying it out with read(2) did
  // (0.35-1.2 s against 0.09-0.13 s for 0.29 GiB), so the view that tensor() gives is the slower way to read it
  // once. Throws ladle::Error naming the file and the tensor for rows outside the tensor, a failed read, or a file
  // that has shrunk since it was opened.
  at::Tensor read_tensor(const std::string& name, std::int64_t first_row = 0, std::int64_t row_count = -1) const;

  // The stored bytes of any tensor, valid while this reader lives.
  ByteRange raw_bytes(const std::string& name) const;

 private:
  std::string where(const std::string& name) const;  // "PATH: tensor 'NAME'", for messages

  std::filesystem::path path_;
  std::shared_ptr<MappedFile> file_;
  SafetensorsHeader header_;
  std::unordered_map<std::string, std::size_t> index_;  // name -> position in header_.tensors
};

}  // namespace ladle::io
