#include "lib/text/jinja/filters.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "lib/text/jinja/access.h"
#include "lib/text/jinja/arguments.h"
#include "lib/text/jinja/python_json.h"
#include "lib/text/jinja/python_str.h"
#include "lib/text/jinja/string_size_limit.h"
#include "lib/text/jinja/unicode.h"
#include "lib/text/utf8.h"
#include "lib/text/jinja/value_tests.h"
#include "lib/util/error.h"

namespace ladle::text::jinja {
namespace {

using Filter = Value (*)(const Value& input, const CallArguments& arguments);

const std::string& require_string(const Value& value, const std::string& what) {
  if (!value.is_string()) throw Error(what + ": expected a string, got " + type_name(value));
  return value.as_string();
}

// An attribute path "a.b" or an index, as Jinja's make_attrgetter reads it.
Value attribute_path(const Value& item, const Value& path) {
  if (!path.is_string()) return get_item(item, path);
  Value current = item;
  for (const auto& part : python_split(path.as_string(), std::string("."))) {
    // An all-digit part is an index (Jinja's make_attrgetter); more than 18 digits index nothing.
    const bool digits = !part.empty() && part.size() <= 18 &&
                        std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    current = digits ? get_item(current, Value(static_cast<std::int64_t>(std::strtoll(part.c_str(), nullptr, 10))))
                     : get_item(current, Value(part));
  }
  return current;
}

Value filter_trim(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "trim", {"chars"});
  const Value& chars = args.get(0, Value(None{}));
  std::optional<std::string> set;
  if (!chars.is_none()) set = require_string(chars, "trim");
  return Value(python_strip(to_str(input), set, StripSide::both));
}

// An indentation of n spaces (none for n <= 0), as Python's " " * n.
std::string spaces(std::int64_t n, const std::string& what) {
  const auto count = static_cast<std::size_t>(std::max<std::int64_t>(0, n));
  require_string_fits(count, what);
  return std::string(count, ' ');
}

Value filter_tojson(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions options;
  options.ensure_ascii = truthy(args.get(0, Value(false)));
  const Value& indent = args.get(1, Value(None{}));
  if (indent.is_string()) {
    options.indent = indent.as_string();
  } else if (indent.is_int()) {
    options.indent = spaces(indent.as_int(), "tojson indent");
  } else if (!indent.is_none()) {
    throw Error("tojson: indent must be an int or a string");
  }
  const Value& separators = args.get(2, Value(None{}));
  if (separators.is_list() && separators.as_list().size() == 2) {
    options.separators = std::make_pair(require_string(separators.as_list()[0], "tojson separators"),
                                        require_string(separators.as_list()[1], "tojson separators"));
  } else if (!separators.is_none()) {
    throw Error("tojson: separators must be a pair of strings");
  }
  options.sort_keys = truthy(args.get(3, Value(false)));
  return Value(json_dumps(input, options));
}

Value filter_length(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "length", {});
  switch (input.kind()) {
    case Value::Kind::undefined: return Value(0);
    case Value::Kind::string: return Value(static_cast<std::int64_t>(code_point_count(input.as_string())));
    case Value::Kind::list: return Value(static_cast<std::int64_t>(input.as_list().size()));
    case Value::Kind::dict: return Value(static_cast<std::int64_t>(input.as_dict().size()));
    default: throw Error("object of type '" + type_name(input) + "' has no len()");
  }
}

Value filter_items(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "items", {});
  if (input.is_undefined()) return Value(List{});
  if (!input.is_dict()) throw Error("items: Can only get item pairs from a mapping.");
  List pairs;
  for (const auto& [key, value] : input.as_dict().items()) pairs.push_back(Value::tuple({Value(key), value}));
  return Value(std::move(pairs));
}

Value filter_upper(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "upper", {});
  return Value(python_upper(to_str(input)));
}

Value filter_lower(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "lower", {});
  return Value(python_lower(to_str(input)));
}

Value filter_capitalize(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "capitalize", {});
  return Value(python_capitalize(to_str(input)));
}

// Jinja's title: each word (split before runs of '-', whitespace, '(', '{', '[', '<') gets its first code
// point upper case and the rest lower case.
Value filter_title(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "title", {});
  auto text = utf8_to_code_points(to_str(input));
  const auto is_separator = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_python_space(c);
  };
  bool word_start = true;
  for (auto& c : text) {
    if (is_separator(c)) {
      word_start = true;
      continue;
    }
    c = word_start ? to_upper(c) : to_lower(c);
    word_start = false;
  }
  return Value(code_points_to_utf8(text));
}

Value filter_default(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "default", {"default_value", "boolean"});
  const bool use_default = truthy(args.get(1, Value(false))) ? !truthy(input) : input.is_undefined();
  return use_default ? args.get(0, Value("")) : input;
}

Value filter_join(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "join", {"d", "attribute"});
  std::vector<std::string> parts;
  for (const auto& item : iterate(input)) parts.push_back(to_str(args.has(1) ? attribute_path(item, args[1]) : item));
  return Value(python_join(to_str(args.get(0, Value(""))), parts));
}

Value filter_first(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "first", {});
  const auto items = iterate(input);
  return items.empty() ? Value(Undefined{"No first item, sequence was empty."}) : items.front();
}

Value filter_last(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "last", {});
  const auto items = iterate(input);
  return items.empty() ? Value(Undefined{"No last item, sequence was empty."}) : items.back();
}

Value filter_string(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "string", {});
  return Value(to_str(input));
}

// Python's float(str): surrounding whitespace allowed, the whole rest must be the number.
std::optional<double> parse_float(const std::string& text) {
  const auto stripped = python_strip(text, std::nullopt, StripSide::both);
  if (stripped.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(stripped.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return value;
}

Value filter_int(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "int", {"default", "base"});
  const Value fallback = args.get(0, Value(0));
  if (input.is_int() || input.is_bool()) return Value(input.as_int());
  if (input.is_float()) {
    const double f = input.as_double();
    if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) return fallback;
    return Value(static_cast<std::int64_t>(f));
  }
  if (!input.is_string()) return fallback;
  const auto text = python_strip(input.as_string(), std::nullopt, StripSide::both);
  const auto base = args.get(1, Value(10));
  if (!base.is_int()) throw Error("int: base must be an integer");
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, static_cast<int>(base.as_int()));
  if (!text.empty() && *end == '\0' && errno == 0) return Value(static_cast<std::int64_t>(value));
  const auto f = parse_float(text);
  if (!f || !std::isfinite(*f) || std::fabs(*f) >= 9.2e18) return fallback;
  return Value(static_cast<std::int64_t>(*f));
}

Value filter_float(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "float", {"default"});
  if (input.is_number()) return Value(input.as_double());
  if (input.is_string()) {
    if (const auto f = parse_float(input.as_string())) return Value(*f);
  }
  return args.get(0, Value(0.0));
}

Value filter_abs(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "abs", {});
  if (input.is_float()) return Value(std::fabs(input.as_double()));
  if (input.is_number()) {
    if (input.as_int() == INT64_MIN) throw Error("abs: integer overflow");
    return Value(input.as_int() < 0 ? -input.as_int() : input.as_int());
  }
  throw Error("bad operand type for abs(): '" + type_name(input) + "'");
}

Value filter_round(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "round", {"precision", "method"});
  if (!input.is_number()) throw Error("round: expected a number, got " + type_name(input));
  const auto precision = args.get(0, Value(0));
  const std::string method = to_str(args.get(1, Value("common")));
  if (!precision.is_int()) throw Error("round: precision must be an integer");
  const double scale = std::pow(10.0, static_cast<double>(precision.as_int()));
  const double x = input.as_double() * scale;
  double rounded;
  if (method == "common") {
    rounded = std::nearbyint(x);  // Python's round(): halves to even
  } else if (method == "ceil") {
    rounded = std::ceil(x);
  } else if (method == "floor") {
    rounded = std::floor(x);
  } else {
    throw Error("round: method must be common, ceil or floor");
  }
  return Value(rounded / scale);
}

Value filter_replace(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "replace", {"old", "new", "count"}, 2);
  const Value& count = args.get(2, Value(None{}));
  if (!count.is_none() && !count.is_int()) throw Error("replace: count must be an integer");
  return Value(python_replace(to_str(input), to_str(args[0]), to_str(args[1]), count.is_none() ? -1 : count.as_int()));
}

Value filter_list(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "list", {});
  return Value(iterate(input));
}

Value filter_reverse(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "reverse", {});
  if (input.is_string()) return Value(python_slice(input.as_string(), std::nullopt, std::nullopt, -1));
  auto items = iterate(input);
  std::reverse(items.begin(), items.end());
  return Value(std::move(items));
}

// The sort key of an item: its attribute when given, lower-cased when it is a string and case does not count.
Value sort_key(const Value& item, const BoundArguments& args, std::size_t case_index, std::size_t attribute_index) {
  Value key = args.has(attribute_index) ? attribute_path(item, args[attribute_index]) : item;
  if (key.is_string() && !truthy(args.get(case_index, Value(false)))) return Value(python_lower(key.as_string()));
  return key;
}

Value filter_sort(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "sort", {"reverse", "case_sensitive", "attribute"});
  auto items = iterate(input);
  const bool reverse = truthy(args.get(0, Value(false)));
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const int order = compare(sort_key(a, args, 1, 2), sort_key(b, args, 1, 2));
    return reverse ? order > 0 : order < 0;
  });
  return Value(std::move(items));
}

Value filter_sum(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "sum", {"attribute", "start"});
  Value total = args.get(1, Value(0));
  for (const auto& item : iterate(input)) {
    const Value value = args.has(0) ? attribute_path(item, args[0]) : item;
    if (!value.is_number() || !total.is_number()) throw Error("sum: expected numbers, got " + type_name(value));
    if (value.is_float() || total.is_float()) {
      total = Value(total.as_double() + value.as_double());
    } else {
      std::int64_t result;
      if (__builtin_add_overflow(total.as_int(), value.as_int(), &result)) throw Error("sum: integer overflow");
      total = Value(result);
    }
  }
  return total;
}

Value extreme(const Value& input, const CallArguments& call, const char* name, bool want_max) {
  BoundArguments args(call, name, {"case_sensitive", "attribute"});
  const auto items = iterate(input);
  if (items.empty()) return Value(Undefined{std::string("No aggregated item, sequence was empty.")});
  std::size_t best = 0;
  for (std::size_t i = 1; i < items.size(); ++i) {
    const int order = compare(sort_key(items[i], args, 0, 1), sort_key(items[best], args, 0, 1));
    if (want_max ? order > 0 : order < 0) best = i;
  }
  return items[best];
}

Value filter_min(const Value& input, const CallArguments& call) { return extreme(input, call, "min", false); }
Value filter_max(const Value& input, const CallArguments& call) { return extreme(input, call, "max", true); }

Value filter_map(const Value& input, const CallArguments& call) {
  List out;
  const bool by_attribute = call.positional.empty();
  if (by_attribute) {
    BoundArguments args(call, "map", {"attribute", "default"}, 1);
    for (const auto& item : iterate(input)) {
      Value value = attribute_path(item, args[0]);
      if (value.is_undefined() && args.has(1)) value = args[1];
      out.push_back(std::move(value));
    }
    return Value(std::move(out));
  }
  const std::string filter = require_string(call.positional[0], "map");
  CallArguments rest{{call.positional.begin() + 1, call.positional.end()}, call.keyword};
  for (const auto& item : iterate(input)) out.push_back(apply_filter(filter, item, rest));
  return Value(std::move(out));
}

// select/reject/selectattr/rejectattr: keep the items whose value (or attribute) passes the test (truthiness
// without one), or fails it for reject.
Value select_items(const Value& input, const CallArguments& call, bool by_attribute, bool keep_passing,
                   const char* name) {
  std::size_t next = 0;
  Value attribute;
  if (by_attribute) {
    if (call.positional.empty()) throw Error(std::string(name) + "() missing required argument 'attribute'");
    attribute = call.positional[next++];
  }
  std::string test;
  if (next < call.positional.size()) test = require_string(call.positional[next++], name);
  CallArguments test_arguments{{call.positional.begin() + static_cast<std::ptrdiff_t>(next), call.positional.end()},
                               call.keyword};
  List out;
  for (const auto& item : iterate(input)) {
    const Value value = by_attribute ? attribute_path(item, attribute) : item;
    const bool passes = test.empty() ? truthy(value) : apply_test(test, value, test_arguments);
    if (passes == keep_passing) out.push_back(item);
  }
  return Value(std::move(out));
}

Value filter_select(const Value& input, const CallArguments& call) { return select_items(input, call, false, true, "select"); }
Value filter_reject(const Value& input, const CallArguments& call) { return select_items(input, call, false, false, "reject"); }
Value filter_selectattr(const Value& input, const CallArguments& call) {
  return select_items(input, call, true, true, "selectattr");
}
Value filter_rejectattr(const Value& input, const CallArguments& call) {
  return select_items(input, call, true, false, "rejectattr");
}

// jinja2.filters.do_indent: every line but the first (and blank lines unless `blank`) indented.
Value filter_indent(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "indent", {"width", "first", "blank"});
  const Value width = args.get(0, Value(4));
  if (!width.is_string() && !width.is_int()) throw Error("indent: width must be an int or a string");
  const std::string indentation = width.is_string() ? width.as_string() : spaces(width.as_int(), "indent");
  const auto lines = python_splitlines(to_str(input) + "\n");
  std::size_t size = 0;  // at most: every line indented
  for (const auto& line : lines) size = std::min(size + 1 + indentation.size() + line.size(), kMaxStringBytes + 1);
  require_string_fits(size, "indent");
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    const bool indent = i == 0 ? truthy(args.get(1, Value(false)))
                               : (truthy(args.get(2, Value(false))) || !lines[i].empty());
    out += (indent ? indentation : "") + lines[i];
  }
  return Value(std::move(out));
}

Value filter_safe(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "safe", {});
  return input;
}

// markupsafe.escape.
Value filter_escape(const Value& input, const CallArguments& call) {
  BoundArguments args(call, "escape", {});
  const std::string text = to_str(input);
  std::size_t size = text.size();  // & " ' grow by 4 bytes (&amp; &#34; &#39;), < > by 3 (&lt; &gt;)
  for (const char c : text) size += c == '&' || c == '"' || c == '\'' ? 4 : c == '<' || c == '>' ? 3 : 0;
  require_string_fits(size, "escape");
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value(std::move(out));
}

const std::vector<std::pair<const char*, Filter>>& filters() {
  static const std::vector<std::pair<const char*, Filter>> table = {
      {"trim", filter_trim},       {"tojson", filter_tojson},         {"length", filter_length},
      {"count", filter_length},    {"items", filter_items},           {"upper", filter_upper},
      {"lower", filter_lower},     {"capitalize", filter_capitalize}, {"title", filter_title},
      {"default", filter_default}, {"d", filter_default},             {"join", filter_join},
      {"first", filter_first},     {"last", filter_last},             {"string", filter_string},
      {"int", filter_int},         {"float", filter_float},           {"abs", filter_abs},
      {"round", filter_round},     {"replace", filter_replace},       {"list", filter_list},
      {"reverse", filter_reverse}, {"sort", filter_sort},             {"sum", filter_sum},
      {"min", filter_min},         {"max", filter_max},               {"map", filter_map},
      {"select", filter_select},   {"reject", filter_reject},         {"selectattr", filter_selectattr},
      {"rejectattr", filter_rejectattr}, {"indent", filter_indent},   {"safe", filter_safe},
      {"escape", filter_escape},   {"e", filter_escape},
  };
  return table;
}

}  // namespace

Value apply_filter(const std::string& name, const Value& input, const CallArguments& arguments) {
  for (const auto& [filter_name, filter] : filters()) {
    if (name == filter_name) return filter(input, arguments);
  }
  throw Error("unsupported filter '" + name + "'");
}

}  // namespace ladle::text::jinja
