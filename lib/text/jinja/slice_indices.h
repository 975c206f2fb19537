// Python's slice semantics: which indices seq[start:stop:step] visits, shared by string and list slicing.
#pragma once

#include <optional>
#include <vector>

namespace ladle::text::jinja {

// The indices of a sequence of `length` items that [start:stop:step] selects, in order (negative bounds count
// from the end; out-of-range bounds are clamped, as slice.indices() does). Throws ladle::Error for step 0.
std::vector<long long> slice_indices(long long length, std::optional<long long> start, std::optional<long long> stop,
                                     long long step);

}  // namespace ladle::text::jinja
