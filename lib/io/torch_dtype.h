// Mapping between safetensors dtypes and libtorch scalar types.
#pragma once

#include <c10/core/ScalarType.h>

#include <optional>
#include <string>

#include "lib/io/dtype.h"

namespace ladle::io {

// The libtorch type holding this dtype; nullopt for F8_E5M2, F8_E4M3, U16, U32 and U64, which libtorch 1.13
// cannot represent (read those through SafetensorsReader::raw_bytes).
std::optional<c10::ScalarType> to_scalar_type(Dtype dtype);

// The safetensors dtype for a libtorch type; throws ladle::Error for types safetensors cannot store
// (complex, quantized, ...).
Dtype from_scalar_type(c10::ScalarType type);

// The name Hugging Face's config.json gives a parameter dtype ("float32", "bfloat16", "float16", "float64");
// throws ladle::Error for dtypes a model's parameters cannot have.
std::string torch_dtype_name(c10::ScalarType type);

}  // namespace ladle::io
