// BoundArguments: a builtin's call arguments bound to its parameter names as Python binds them (positional
// first, then keywords), so filters, tests and methods accept trim(' '), tojson(indent=2) and friends alike.
#pragma once

#include <string>
#include <vector>

#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

class BoundArguments {
 public:
  // Throws ladle::Error naming `function` for too many positional arguments, an unknown keyword or one given
  // twice. The first `required` parameters must be given.
  BoundArguments(const CallArguments& arguments, const std::string& function, std::vector<std::string> parameters,
                 std::size_t required = 0);

  // Whether parameter i was given.
  bool has(std::size_t i) const { return given_[i]; }
  // Parameter i, or fallback when it was not given.
  Value get(std::size_t i, const Value& fallback) const { return given_[i] ? values_[i] : fallback; }
  // Parameter i, which must have been given (a required one).
  const Value& operator[](std::size_t i) const { return values_[i]; }

 private:
  std::vector<Value> values_;
  std::vector<bool> given_;
};

}  // namespace ladle::text::jinja
