// Small text helpers shared by the model files: name lists for error messages, suffix tests for
// Hugging Face module names.
#pragma once

#include <string>
#include <vector>

namespace ladle::model {

// "'a', 'b', 'c' and 4 more": the first eight names, enough to act on without flooding a message.
std::string name_list(const std::vector<std::string>& names);

bool ends_with(const std::string& text, const std::string& suffix);

}  // namespace ladle::model
