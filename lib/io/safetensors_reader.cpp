#include "lib/io/safetensors_reader.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <cstring>

#include "lib/io/mapped_file.h"
#include "lib/io/positioned_read.h"
#include "lib/io/strict_json.h"
#include "lib/io/torch_dtype.h"
#include "lib/util/error.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; SafetensorsReader hands it to libtorch unconverted"
#endif

namespace ladle::io {
namespace {

void check_bool_values(const ByteRange& bytes, const std::string& where) {
  for (std::size_t i = 0; i < bytes.size; ++i) {
    if (bytes.data[i] > 1) {
      throw Error(where + ": BOOL element " + std::to_string(i) + " holds " + std::to_string(bytes.data[i]) +
                  " (expected 0 or 1)");
    }
  }
}

// The entry's dtype as libtorch's; throws for dtypes libtorch 1.13 lacks.
at::ScalarType scalar_type_of(const TensorEntry& e, const std::string& where) {
  const auto scalar_type = to_scalar_type(e.dtype);
  if (!scalar_type) {
    throw Error(where + ": dtype " + dtype_name(e.dtype) +
                " is unsupported by libtorch 1.13; raw_bytes() gives the stored bytes");
  }
  return *scalar_type;
}

}  // namespace

SafetensorsReader::SafetensorsReader(const std::filesystem::path& path)
    : path_(path),
      file_(std::make_shared<MappedFile>(path)),
      header_(parse_safetensors_header(file_->data(), file_->size(), path.string())) {
  index_.reserve(header_.tensors.size());
  for (std::size_t i = 0; i < header_.tensors.size(); ++i) index_.emplace(header_.tensors[i].name, i);
}

SafetensorsReader::~SafetensorsReader() = default;

const TensorEntry& SafetensorsReader::entry(const std::string& name) const {
  auto found = index_.find(name);
  if (found == index_.end()) throw Error(path_.string() + ": no tensor named " + quote_for_message(name));
  return header_.tensors[found->second];
}

ByteRange SafetensorsReader::raw_bytes(const std::string& name) const {
  const TensorEntry& e = entry(name);
  return {file_->data() + header_.data_offset() + e.begin, static_cast<std::size_t>(e.nbytes())};
}

std::string SafetensorsReader::where(const std::string& name) const {
  return path_.string() + ": tensor " + quote_for_message(name);
}

at::Tensor SafetensorsReader::tensor(const std::string& name) const {
  const TensorEntry& e = entry(name);
  const auto options = at::TensorOptions().dtype(scalar_type_of(e, where(name))).device(at::kCPU);
  const ByteRange bytes = raw_bytes(name);
  if (e.dtype == Dtype::BOOL) check_bool_values(bytes, where(name));

  std::uint8_t* address = file_->mutable_data() + header_.data_offset() + e.begin;
  if (reinterpret_cast<std::uintptr_t>(address) % dtype_size(e.dtype) == 0) {
    // The deleter owns a reference to the mapping, so the view stays valid after the reader is gone.
    std::shared_ptr<MappedFile> keep_alive = file_;
    return at::from_blob(
        address, e.shape, [keep_alive](void*) mutable { keep_alive.reset(); }, options);
  }
  at::Tensor copy = at::empty(e.shape, options);
  if (bytes.size != 0) std::memcpy(copy.data_ptr(), bytes.data, bytes.size);
  return copy;
}

at::Tensor SafetensorsReader::read_tensor(const std::string& name, std::int64_t first_row,
                                          std::int64_t row_count) const {
  const TensorEntry& e = entry(name);
  std::vector<std::int64_t> shape = e.shape;
  const std::int64_t rows = shape.empty() ? 1 : shape.front();
  if (row_count < 0) row_count = rows - first_row;
  if (first_row < 0 || row_count < 0 || first_row + row_count > rows || (shape.empty() && row_count != 1)) {
    throw Error(where(name) + ": rows [" + std::to_string(first_row) + ", " + std::to_string(first_row + row_count) +
                ") are outside its " + std::to_string(rows) + " row(s)");
  }
  if (!shape.empty()) shape.front() = row_count;
  at::Tensor copy = at::empty(shape, at::TensorOptions().dtype(scalar_type_of(e, where(name))).device(at::kCPU));
  const auto size = static_cast<std::size_t>(copy.nbytes());
  if (size == 0) return copy;
  const std::uint64_t row_bytes = rows == 0 ? 0 : static_cast<std::uint64_t>(e.nbytes()) / static_cast<std::uint64_t>(rows);
  const std::uint64_t offset = header_.data_offset() + e.begin + static_cast<std::uint64_t>(first_row) * row_bytes;
  const PositionedRead read = read_fully_at(file_->descriptor(), copy.data_ptr(), size, offset);
  if (read.error != 0) throw Error(where(name) + ": cannot read its bytes: " + std::strerror(read.error));
  if (read.bytes != size) {
    throw Error(where(name) + ": the file ended " + std::to_string(read.bytes) + " bytes into the " +
                std::to_string(size) + " bytes to read (it changed after it was opened)");
  }
  if (e.dtype == Dtype::BOOL) check_bool_values({static_cast<const std::uint8_t*>(copy.data_ptr()), size}, where(name));
  return copy;
}

}  // namespace ladle::io
