// The element types a safetensors file can declare, with their names and sizes as the format defines them
// (https://github.com/huggingface/safetensors, "Format": dtype strings). Torch-free: the header parser and the
// fuzzer use it without libtorch; lib/io/torch_dtype.h maps these to c10::ScalarType.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ladle::io {

enum class Dtype { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

// Parses the exact (upper-case) safetensors name, e.g. "BF16"; nullopt for anything else.
std::optional<Dtype> parse_dtype(std::string_view name);
// The safetensors name, e.g. "F32".
const char* dtype_name(Dtype dtype);
// Bytes per element (BOOL is stored as one byte per element).
std::size_t dtype_size(Dtype dtype);
// Every known name, comma-separated, for error messages ("BOOL, U8, I8, ...").
std::string known_dtype_names();

}  // namespace ladle::io
