// "Did you mean ...?" for a misspelt name: the Levenshtein distance (insertions, deletions and substitutions each
// cost 1) and the nearest of a list of known names.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ladle {

// The fewest single-character insertions, deletions and substitutions that turn `a` into `b`.
std::size_t edit_distance(const std::string& a, const std::string& b);

// The known name nearest to `name` when it is at most `max_distance` edits away (the first of equally near ones),
// else "" (a suggestion only helps for a near miss).
std::string closest_name(const std::string& name, const std::vector<std::string>& known, std::size_t max_distance = 2);

}  // namespace ladle
