#include "lib/io/safetensors_reader.h"

#include <ATen/ATen.h>

#include <cstring>

#include "lib/io/mapped_file.h"
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

at::Tensor SafetensorsReader::tensor(const std::string& name) const {
  const TensorEntry& e = entry(name);
  const std::string where = path_.string() + ": tensor " + quote_for_message(name);
  const auto scalar_type = to_scalar_type(e.dtype);
  if (!scalar_type) {
    throw Error(where + ": dtype " + dtype_name(e.dtype) +
                " is unsupported by libtorch 1.13; raw_bytes() gives the stored bytes");
  }
  const ByteRange bytes = raw_bytes(name);
  if (e.dtype == Dtype::BOOL) check_bool_values(bytes, where);

  const auto options = at::TensorOptions().dtype(*scalar_type).device(at::kCPU);
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

}  // namespace ladle::io
