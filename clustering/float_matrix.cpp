#include "clustering/float_matrix.h"

#include <string>

#include "lib/util/error.h"

namespace ladle::clustering {

FloatMatrix::FloatMatrix(std::int64_t rows, std::int64_t cols) : rows(rows), cols(cols) {
  if (rows < 0 || cols < 0) {
    throw Error("a matrix cannot have " + std::to_string(rows) + " rows and " + std::to_string(cols) + " columns");
  }
  values.assign(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols), 0.0f);
}

}  // namespace ladle::clustering
