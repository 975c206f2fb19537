// Small helpers many suites share: literal tensors and the message of an expected ladle::Error.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lib/util/error.h"

namespace ladle::testing {

// A 1-D fp32 tensor holding `values`.
inline at::Tensor floats(std::vector<float> values) { return at::tensor(values, at::kFloat); }

// The message of the ladle::Error that `run` throws; records a test failure when it throws none.
template <typename Run>
std::string error_message(const Run& run) {
  try {
    run();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected ladle::Error";
  return "";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace ladle::testing
