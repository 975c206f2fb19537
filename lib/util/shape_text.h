// A tensor shape as people read it in messages and reports.
#pragma once

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace ladle {

// {2, 5, 64} -> "[2, 5, 64]"; {} (a scalar) -> "[]". Takes tensor.sizes() and std::vector<int64_t> alike.
std::string shape_text(c10::ArrayRef<std::int64_t> shape);

}  // namespace ladle
