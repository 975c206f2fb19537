// FloatMatrix: N row vectors of dimension d in one row-major float32 buffer. It is what the embedder produces, what
// .npy files hold and what faiss reads, so the clustering code needs no tensor library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ladle::clustering {

struct FloatMatrix {
  std::int64_t rows = 0;      // N vectors
  std::int64_t cols = 0;      // d dimensions
  std::vector<float> values;  // [rows * cols], row-major: row i is values[i*cols, (i+1)*cols)

  FloatMatrix() = default;
  // A rows × cols matrix of zeros. Throws ladle::Error for a negative size.
  FloatMatrix(std::int64_t rows, std::int64_t cols);

  float* row(std::int64_t i) { return values.data() + static_cast<std::size_t>(i * cols); }
  const float* row(std::int64_t i) const { return values.data() + static_cast<std::size_t>(i * cols); }
};

}  // namespace ladle::clustering
