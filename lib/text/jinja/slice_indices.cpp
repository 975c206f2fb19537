#include "lib/text/jinja/slice_indices.h"

#include "lib/util/error.h"

namespace ladle::text::jinja {
namespace {

// slice.indices(): a bound made non-negative and clamped to [lower, upper].
long long clamp_bound(long long bound, long long length, long long lower, long long upper) {
  if (bound < 0) bound += length;
  if (bound < lower) return lower;
  if (bound > upper) return upper;
  return bound;
}

}  // namespace

std::vector<long long> slice_indices(long long length, std::optional<long long> start, std::optional<long long> stop,
                                     long long step) {
  if (step == 0) throw Error("slice step cannot be zero");
  // For a negative step the bounds run from length - 1 down to -1 (one before the first item).
  const long long lower = step > 0 ? 0 : -1;
  const long long upper = step > 0 ? length : length - 1;
  const long long first = start ? clamp_bound(*start, length, lower, upper) : (step > 0 ? 0 : length - 1);
  const long long last = stop ? clamp_bound(*stop, length, lower, upper) : (step > 0 ? length : -1);
  std::vector<long long> indices;
  for (long long i = first; step > 0 ? i < last : i > last; i += step) indices.push_back(i);
  return indices;
}

}  // namespace ladle::text::jinja
