// Python's str methods over UTF-8 strings, by code point as Python works: what templates call as methods
// (message.content.strip(), .split('</think>'), .startswith(...)) and what the string filters are made of.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ladle::text::jinja {

enum class StripSide { both, left, right };

// str.strip/lstrip/rstrip(chars): whitespace when chars is unset, else any of chars' code points.
std::string python_strip(const std::string& s, const std::optional<std::string>& chars, StripSide side);
// str.split(sep, maxsplit): on runs of whitespace (ends dropped) when sep is unset; maxsplit < 0: no limit.
// Throws ladle::Error for an empty sep ("empty separator").
std::vector<std::string> python_split(const std::string& s, const std::optional<std::string>& sep,
                                      long long maxsplit = -1);
// str.splitlines(): on \n, \r\n, \r, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029; line ends dropped.
std::vector<std::string> python_splitlines(const std::string& s);
// str.replace(old, new, count); count < 0: all. An empty old inserts new between every code point, as Python.
std::string python_replace(const std::string& s, const std::string& old, const std::string& replacement,
                           long long count = -1);
// separator.join(parts). Throws ladle::Error when the result would exceed kMaxStringBytes (string_size_limit.h).
std::string python_join(const std::string& separator, const std::vector<std::string>& parts);
std::string python_upper(const std::string& s);
std::string python_lower(const std::string& s);
// str.capitalize(): the first code point upper case, the rest lower case.
std::string python_capitalize(const std::string& s);
// str.title(): upper case after a non-letter, lower case after a letter.
std::string python_title(const std::string& s);
bool python_isalpha(char32_t c);
// s[start:stop:step] by code point, with Python's slice clamping; step must not be 0.
std::string python_slice(const std::string& s, std::optional<long long> start, std::optional<long long> stop,
                         long long step);

}  // namespace ladle::text::jinja
