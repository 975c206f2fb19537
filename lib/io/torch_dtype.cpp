#include "lib/io/torch_dtype.h"

#include <string>

#include "lib/util/error.h"

namespace ladle::io {

std::optional<c10::ScalarType> to_scalar_type(Dtype dtype) {
  switch (dtype) {
    case Dtype::BOOL: return c10::ScalarType::Bool;
    case Dtype::U8: return c10::ScalarType::Byte;
    case Dtype::I8: return c10::ScalarType::Char;
    case Dtype::I16: return c10::ScalarType::Short;
    case Dtype::I32: return c10::ScalarType::Int;
    case Dtype::I64: return c10::ScalarType::Long;
    case Dtype::F16: return c10::ScalarType::Half;
    case Dtype::BF16: return c10::ScalarType::BFloat16;
    case Dtype::F32: return c10::ScalarType::Float;
    case Dtype::F64: return c10::ScalarType::Double;
    case Dtype::F8_E5M2:
    case Dtype::F8_E4M3:
    case Dtype::U16:
    case Dtype::U32:
    case Dtype::U64: return std::nullopt;
  }
  return std::nullopt;
}

Dtype from_scalar_type(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Bool: return Dtype::BOOL;
    case c10::ScalarType::Byte: return Dtype::U8;
    case c10::ScalarType::Char: return Dtype::I8;
    case c10::ScalarType::Short: return Dtype::I16;
    case c10::ScalarType::Int: return Dtype::I32;
    case c10::ScalarType::Long: return Dtype::I64;
    case c10::ScalarType::Half: return Dtype::F16;
    case c10::ScalarType::BFloat16: return Dtype::BF16;
    case c10::ScalarType::Float: return Dtype::F32;
    case c10::ScalarType::Double: return Dtype::F64;
    default:
      throw Error(std::string("libtorch dtype ") + c10::toString(type) +
                  " cannot be stored in safetensors (supported: bool, uint8, int8, int16, int32, int64, float16, "
                  "bfloat16, float32, float64)");
  }
}

std::string torch_dtype_name(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::BFloat16: return "bfloat16";
    case c10::ScalarType::Half: return "float16";
    case c10::ScalarType::Double: return "float64";
    default:
      throw Error(std::string("parameters of dtype ") + c10::toString(type) + " cannot be saved as a model");
  }
}

}  // namespace ladle::io
