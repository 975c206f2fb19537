// Parsing and validation of a safetensors file's header, treating the file as hostile.
// Torch-free (nlohmann json and lib/util/error.h only) so that the fuzzer can link it alone.
//
// Layout (https://github.com/huggingface/safetensors, "Format"): an unsigned little-endian 64-bit header size N,
// then N bytes of UTF-8 JSON mapping tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section that follows the header) plus an optional "__metadata__" string->string map,
// then the data section, which the tensors must index completely and without overlap.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/io/dtype.h"

namespace ladle::io {

// Largest header accepted, as in the reference implementation (MAX_HEADER_SIZE = 100,000,000 bytes).
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct TensorEntry {
  std::string name;
  Dtype dtype;
  std::vector<std::int64_t> shape;  // empty for a 0-d scalar
  std::uint64_t begin;              // byte offsets relative to the data section, [begin, end)
  std::uint64_t end;

  std::uint64_t numel() const;  // product of shape (1 for a 0-d scalar)
  std::uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::uint64_t header_size;                    // N: bytes of JSON (with padding) after the 8-byte size
  std::vector<TensorEntry> tensors;             // sorted by begin (file order)
  std::map<std::string, std::string> metadata;  // "__metadata__", empty when absent

  std::uint64_t data_offset() const { return 8 + header_size; }  // file offset of the data section
};

// Parses and validates the first `file_size` bytes at `bytes` (the whole file: the data section is only used
// for its size). Throws ladle::Error naming `file_label` (and the tensor, where there is one) when the file
// is shorter than 8 bytes; the header size runs past the end or exceeds kMaxSafetensorsHeaderBytes; the header
// is not a UTF-8 JSON object starting with '{' or repeats a key; "__metadata__" is not a string->string
// object; an entry is not an object with exactly "dtype", "shape" and "data_offsets"; a dtype is unknown; a
// shape is not an array of non-negative integers or its byte size overflows 64 bits; data_offsets are not two
// non-negative integers in order within the data section or do not span numel * dtype size bytes; or the
// ranges overlap, leave a hole or leave trailing bytes (they must tile the data section exactly).
SafetensorsHeader parse_safetensors_header(const std::uint8_t* bytes, std::uint64_t file_size,
                                           const std::string& file_label);

}  // namespace ladle::io
