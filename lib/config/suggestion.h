// "Did you mean" for misspelt names: the known name nearest by edit distance, when it is a near miss.
#pragma once

#include <string>
#include <vector>

namespace ladle::config {

// Levenshtein distance: the fewest single-character insertions, deletions and substitutions from a to b.
std::size_t edit_distance(const std::string& a, const std::string& b);

// The known name at edit distance 1 or 2 from `name` (the nearest, first declared on a tie); empty when none is.
std::string closest_name(const std::string& name, const std::vector<std::string>& known);

// " (did you mean 'weight_decay'?)" or "" when no known name is near.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& known);

// "a, b, c".
std::string comma_list(const std::vector<std::string>& names);

}  // namespace ladle::config
