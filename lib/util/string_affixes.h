// Prefix and suffix tests on strings (C++20's std::string_view::starts_with / ends_with, which C++17 lacks), for
// tensor and module names ("model.layers.3.mlp.up_proj.weight"), checkpoint folder names and the like.
#pragma once

#include <string_view>

namespace ladle {

// True when `text` begins with `prefix`; every text begins with the empty prefix.
constexpr bool starts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

// True when `text` ends with `suffix`; every text ends with the empty suffix.
constexpr bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace ladle
