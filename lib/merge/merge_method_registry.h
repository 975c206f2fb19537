// The registry of merge methods by their mergekit names.
#pragma once

#include <string>
#include <vector>

#include "lib/merge/merge_method.h"

namespace ladle::merge {

// The method registered under `name`; throws ladle::Error listing the known names when there is none.
const MergeMethod& find_merge_method(const std::string& name);
// Every registered name, sorted.
std::vector<std::string> merge_method_names();

}  // namespace ladle::merge
