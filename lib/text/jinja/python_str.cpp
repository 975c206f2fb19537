#include "lib/text/jinja/python_str.h"

#include <algorithm>
#include <limits>

#include "lib/text/jinja/slice_indices.h"
#include "lib/text/jinja/string_size_limit.h"
#include "lib/text/jinja/unicode.h"
#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::jinja {

std::string python_strip(const std::string& s, const std::optional<std::string>& chars, StripSide side) {
  const auto text = utf8_to_code_points(s);
  const auto set = chars ? utf8_to_code_points(*chars) : std::u32string();
  const auto strip = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : is_python_space(c); };
  std::size_t begin = 0;
  std::size_t end = text.size();
  if (side != StripSide::right) {
    while (begin < end && strip(text[begin])) ++begin;
  }
  if (side != StripSide::left) {
    while (end > begin && strip(text[end - 1])) --end;
  }
  return code_points_to_utf8(std::u32string_view(text).substr(begin, end - begin));
}

std::vector<std::string> python_split(const std::string& s, const std::optional<std::string>& sep, long long maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) throw Error("str.split: empty separator");
    std::size_t start = 0;
    std::size_t at;
    while ((maxsplit < 0 || static_cast<long long>(parts.size()) < maxsplit) &&
           (at = s.find(*sep, start)) != std::string::npos) {
      require_list_fits(parts.size() + 2, "str.split");
      parts.push_back(s.substr(start, at - start));
      start = at + sep->size();
    }
    parts.push_back(s.substr(start));
    return parts;
  }
  const auto text = utf8_to_code_points(s);
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_python_space(text[i])) ++i;
    if (i == text.size()) break;
    if (maxsplit >= 0 && static_cast<long long>(parts.size()) == maxsplit) {
      // The rest, trailing whitespace included, is the last part (Python keeps it unstripped).
      parts.push_back(code_points_to_utf8(std::u32string_view(text).substr(i)));
      break;
    }
    const auto start = i;
    while (i < text.size() && !is_python_space(text[i])) ++i;
    require_list_fits(parts.size() + 1, "str.split");
    parts.push_back(code_points_to_utf8(std::u32string_view(text).substr(start, i - start)));
  }
  return parts;
}

std::vector<std::string> python_splitlines(const std::string& s) {
  const auto text = utf8_to_code_points(s);
  std::vector<std::string> lines;
  std::u32string line;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    const bool is_break = c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1E) ||
                          c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!is_break) {
      line += c;
      continue;
    }
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    require_list_fits(lines.size() + 2, "splitlines");
    lines.push_back(code_points_to_utf8(line));
    line.clear();
  }
  if (!line.empty()) lines.push_back(code_points_to_utf8(line));
  return lines;
}

namespace {

// The size python_replace's result will have: each of the first `count` (all if negative) matches of old grows or
// shrinks the string by the difference; an empty old matches before every code point and at the end.
std::size_t replaced_size(const std::string& s, const std::string& old, const std::string& replacement,
                          long long count) {
  std::size_t matches = 0;
  if (old.empty()) {
    matches = code_point_count(s) + 1;
  } else {
    for (auto at = s.find(old); at != std::string::npos; at = s.find(old, at + old.size())) ++matches;
  }
  if (count >= 0) matches = std::min(matches, static_cast<std::size_t>(count));
  const std::size_t removed = old.size() * matches;  // matches of a non-empty old lie within s: no overflow
  const std::size_t added = saturating_product(replacement.size(), matches);
  const std::size_t kept = s.size() - removed;
  return added > std::numeric_limits<std::size_t>::max() - kept ? std::numeric_limits<std::size_t>::max()
                                                                : added + kept;
}

}  // namespace

std::string python_join(const std::string& separator, const std::vector<std::string>& parts) {
  std::size_t size = parts.empty() ? 0 : saturating_product(separator.size(), parts.size() - 1);
  for (const auto& part : parts) size = std::min(size + part.size(), kMaxStringBytes + 1);
  require_string_fits(size, "join");
  std::string out;
  out.reserve(size);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::string python_replace(const std::string& s, const std::string& old, const std::string& replacement,
                           long long count) {
  require_string_fits(replaced_size(s, old, replacement, count), "replace");
  std::string out;
  long long done = 0;
  if (old.empty()) {
    const auto text = utf8_to_code_points(s);
    for (std::size_t i = 0; i <= text.size(); ++i) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      if (i < text.size()) out += code_points_to_utf8(std::u32string(1, text[i]));
    }
    return out;
  }
  std::size_t start = 0;
  std::size_t at;
  while ((count < 0 || done < count) && (at = s.find(old, start)) != std::string::npos) {
    out += s.substr(start, at - start);
    out += replacement;
    start = at + old.size();
    ++done;
  }
  return out + s.substr(start);
}

std::string python_upper(const std::string& s) {
  auto text = utf8_to_code_points(s);
  for (auto& c : text) c = to_upper(c);
  return code_points_to_utf8(text);
}

std::string python_lower(const std::string& s) {
  auto text = utf8_to_code_points(s);
  for (auto& c : text) c = to_lower(c);
  return code_points_to_utf8(text);
}

std::string python_capitalize(const std::string& s) {
  auto text = utf8_to_code_points(s);
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = i == 0 ? to_upper(text[i]) : to_lower(text[i]);
  return code_points_to_utf8(text);
}

bool python_isalpha(char32_t c) { return to_upper(c) != c || to_lower(c) != c || c == 0xDF || c == 0xFF; }

std::string python_title(const std::string& s) {
  auto text = utf8_to_code_points(s);
  bool previous_cased = false;
  for (auto& c : text) {
    const bool cased = python_isalpha(c);
    c = cased ? (previous_cased ? to_lower(c) : to_upper(c)) : c;
    previous_cased = cased;
  }
  return code_points_to_utf8(text);
}

std::string python_slice(const std::string& s, std::optional<long long> start, std::optional<long long> stop,
                         long long step) {
  const auto text = utf8_to_code_points(s);
  std::u32string out;
  for (const auto i : slice_indices(static_cast<long long>(text.size()), start, stop, step)) out += text[i];
  return code_points_to_utf8(out);
}

}  // namespace ladle::text::jinja
