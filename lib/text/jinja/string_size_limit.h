// The most bytes one string a template builds may hold, or a list made from a string (its characters, its split
// parts). The builders that can multiply what they are given (an indent of n spaces, replace, join, tojson,
// escape, a list repeated, a string split) compute the size of what they would build and check it here first, so
// a template asking for 10^15 spaces is a clear error, not an allocation failure. Jinja itself has no such bound
// (Python raises MemoryError); RenderLimits::max_output_bytes, at most this, bounds the output of a render and
// the strings its operators and filters return.
#pragma once

#include <cstddef>
#include <string>

#include "lib/util/error.h"

namespace ladle::text::jinja {

// 32 MiB of text is some 8 million tokens, more than any model's context holds; and what a template does with a
// string multiplies its memory (4 bytes a code point decoded, a Value of ~40 bytes a character as a list), so a
// render stays within a few hundred MB.
inline constexpr std::size_t kMaxStringBytes = std::size_t{32} << 20;
// What a list item built from a string costs: a Value and a short string.
inline constexpr std::size_t kListItemBytes = 64;

// Throws ladle::Error naming `what` (e.g. "indent") when a string of `bytes` would be longer than `limit`.
inline void require_string_fits(std::size_t bytes, const std::string& what, std::size_t limit = kMaxStringBytes) {
  if (bytes > limit) {
    throw Error(what + ": the result would be " + std::to_string(bytes) + " bytes, more than the " +
                std::to_string(limit) + " a template may build in one string");
  }
}

// Throws like require_string_fits when a list of `items` built from a string would take more than kMaxStringBytes.
inline void require_list_fits(std::size_t items, const std::string& what) {
  if (items > kMaxStringBytes / kListItemBytes) {
    throw Error(what + ": the result would be a list of " + std::to_string(items) + " items, more than the " +
                std::to_string(kMaxStringBytes / kListItemBytes) + " a template may build from one string");
  }
}

// bytes * times, saturating at the largest size_t, for a size check that must not wrap.
inline std::size_t saturating_product(std::size_t bytes, std::size_t times) {
  std::size_t product = 0;
  return __builtin_mul_overflow(bytes, times, &product) ? static_cast<std::size_t>(-1) : product;
}

}  // namespace ladle::text::jinja
