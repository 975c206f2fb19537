// Name lists for the model files' error messages.
#pragma once

#include <string>
#include <vector>

namespace ladle::model {

// "'a', 'b', 'c' and 4 more": the first eight names, enough to act on without flooding a message.
std::string name_list(const std::vector<std::string>& names);

}  // namespace ladle::model
