// The one exception type ladle throws for bad input and failed operations.
#pragma once

#include <stdexcept>
#include <string>

namespace ladle {

// An error a user can act on. The message names the file, field or tensor and says what was expected,
// e.g. "model.safetensors: tensor 'lm_head.weight': data range [10, 4) is reversed".
// The CLI prints it as one line and exits non-zero.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace ladle
