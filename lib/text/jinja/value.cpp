#include "lib/text/jinja/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "lib/text/jinja/string_size_limit.h"
#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::jinja {
namespace {

// Python's str.isprintable() is false for these (control, format, separator other than space, private use);
// repr() escapes them. The ranges cover the Latin-1 and general-punctuation blocks templates meet.
bool printable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F)) return false;
  if (c == 0x3000 || c == 0xFEFF || (c >= 0xE000 && c <= 0xF8FF) || (c >= 0xD800 && c <= 0xDFFF)) return false;
  return true;
}

std::string string_repr(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (const char32_t c : utf8_to_code_points(s)) {
    char buffer[16];
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!printable(c)) {
      const char* format = c < 0x100 ? "\\x%02x" : c < 0x10000 ? "\\u%04x" : "\\U%08x";
      std::snprintf(buffer, sizeof buffer, format, static_cast<unsigned>(c));
      out += buffer;
    } else {
      out += code_points_to_utf8(std::u32string(1, c));
    }
  }
  out += quote;
  return out;
}

int sign(double d) { return d < 0 ? -1 : d > 0 ? 1 : 0; }

}  // namespace

const Value* Dict::find(std::string_view key) const {
  for (const auto& item : items_) {
    if (item.first == key) return &item.second;
  }
  return nullptr;
}

void Dict::set(std::string key, Value value) {
  for (auto& item : items_) {
    if (item.first == key) {
      item.second = std::move(value);
      return;
    }
  }
  items_.emplace_back(std::move(key), std::move(value));
}

void Dict::release_values_into(std::vector<Value>& out) {
  for (auto& item : items_) out.push_back(std::move(item.second));
  items_.clear();
}

Value::~Value() {
  std::vector<Value> pending;
  release_items_into(pending);
  // Each value taken here gives up its own items before it is destroyed, so no destructor meets a nested container
  // it owns alone.
  while (!pending.empty()) {
    Value last = std::move(pending.back());
    pending.pop_back();
    last.release_items_into(pending);
  }
}

void Value::release_items_into(std::vector<Value>& out) {
  // use_count() == 1: no other Value shares the container, so nobody can see it emptied. The const_casts are
  // sound because the containers are created non-const (the constructors).
  if (auto* list = std::get_if<std::shared_ptr<const List>>(&data_); list && *list && list->use_count() == 1) {
    auto& items = const_cast<List&>(**list);
    for (auto& item : items) out.push_back(std::move(item));
    items.clear();
  } else if (auto* dict = std::get_if<std::shared_ptr<const Dict>>(&data_); dict && *dict && dict->use_count() == 1) {
    const_cast<Dict&>(**dict).release_values_into(out);
  } else if (auto* ns = std::get_if<std::shared_ptr<Namespace>>(&data_); ns && *ns && ns->use_count() == 1) {
    (*ns)->attributes.release_values_into(out);
  }
}

namespace {

// The depth of the walk that print, == and ordering are making through nested containers, on this thread.
thread_local int value_walk_depth = 0;

// One level of such a walk; throws past kMaxValueNesting.
class ValueWalkLevel {
 public:
  explicit ValueWalkLevel(const char* operation) {
    if (value_walk_depth >= kMaxValueNesting) {
      throw Error(std::string(operation) + ": the value is nested deeper than " + std::to_string(kMaxValueNesting) +
                  " levels");
    }
    ++value_walk_depth;
  }
  ~ValueWalkLevel() { --value_walk_depth; }
  ValueWalkLevel(const ValueWalkLevel&) = delete;
  ValueWalkLevel& operator=(const ValueWalkLevel&) = delete;
};

}  // namespace

std::string type_name(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined: return "Undefined";
    case Value::Kind::none: return "NoneType";
    case Value::Kind::boolean: return "bool";
    case Value::Kind::integer: return "int";
    case Value::Kind::floating: return "float";
    case Value::Kind::string: return "str";
    case Value::Kind::list: return "list";
    case Value::Kind::dict: return "dict";
    case Value::Kind::name_space: return "Namespace";
    case Value::Kind::callable: return "function";
  }
  return "object";
}

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  // The shortest precision that reads back exactly (Python's repr, David Gay's shortest round trip).
  char buffer[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*e", precision - 1, f);
    if (std::strtod(buffer, nullptr) == f) break;
  }
  // buffer is "-d.ddde+XX": split into sign, digits and the decimal exponent.
  std::string text(buffer);
  std::string negative;
  if (text[0] == '-') {
    negative = "-";
    text.erase(0, 1);
  }
  const auto e = text.find('e');
  const int exponent = std::atoi(text.c_str() + e + 1);
  std::string digits = text.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // the '.'
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int point = exponent + 1;  // digits before the decimal point
  std::string out;
  // Python's float_repr_style 'short': positional when -4 <= exponent < 16, else scientific.
  if (exponent >= -4 && exponent < 16) {
    if (point <= 0) {
      out = "0." + std::string(-point, '0') + digits;
    } else if (point >= static_cast<int>(digits.size())) {
      out = digits + std::string(point - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, point) + "." + digits.substr(point);
    }
  } else {
    out = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
  }
  return negative + out;
}

std::string to_str(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined: return "";
    case Value::Kind::string: return value.as_string();
    default: return repr(value);
  }
}

namespace {

// The containers repr() is printing, innermost last: a container met again inside itself prints as Python's
// recursive repr does ("[...]", "{...}"), which a namespace holding itself (or a list that holds it) needs.
thread_local std::vector<const void*> containers_in_repr;

// Runs print() with `container` marked as being printed; "recursion" when it already is.
template <class Print>
std::string repr_of_container(const void* container, const char* recursion, const Print& print) {
  if (std::find(containers_in_repr.begin(), containers_in_repr.end(), container) != containers_in_repr.end()) {
    return recursion;
  }
  containers_in_repr.push_back(container);
  std::string text;
  try {
    text = print();
  } catch (...) {
    containers_in_repr.pop_back();
    throw;
  }
  containers_in_repr.pop_back();
  return text;
}

std::string dict_repr(const Dict& dict) {
  return repr_of_container(&dict, "{...}", [&] {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, item] : dict.items()) {
      out += (first ? "" : ", ") + string_repr(key) + ": " + repr(item);
      first = false;
    }
    return out + "}";
  });
}

}  // namespace

std::string repr(const Value& value) {
  const ValueWalkLevel level("printing");
  switch (value.kind()) {
    case Value::Kind::undefined: return "Undefined";
    case Value::Kind::none: return "None";
    case Value::Kind::boolean: return value.as_bool() ? "True" : "False";
    case Value::Kind::integer: return std::to_string(value.as_int());
    case Value::Kind::floating: return float_repr(value.as_double());
    case Value::Kind::string: return string_repr(value.as_string());
    case Value::Kind::list: {
      const auto& items = value.as_list();
      return repr_of_container(&items, value.is_tuple() ? "(...)" : "[...]", [&] {
        std::string out = value.is_tuple() ? "(" : "[";
        for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + repr(items[i]);
        if (value.is_tuple()) return out + (items.size() == 1 ? ",)" : ")");
        return out + "]";
      });
    }
    case Value::Kind::dict: return dict_repr(value.as_dict());
    case Value::Kind::name_space: return "<Namespace " + dict_repr(value.as_namespace().attributes) + ">";
    case Value::Kind::callable: return "<function " + value.as_callable().name + ">";
  }
  return "";
}

bool truthy(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return false;
    case Value::Kind::boolean: return value.as_bool();
    case Value::Kind::integer: return value.as_int() != 0;
    case Value::Kind::floating: return value.as_double() != 0.0;
    case Value::Kind::string: return !value.as_string().empty();
    case Value::Kind::list: return !value.as_list().empty();
    case Value::Kind::dict: return value.as_dict().size() > 0;
    default: return true;
  }
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  const ValueWalkLevel level("comparing with ==");
  switch (a.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return true;
    case Value::Kind::string: return a.as_string() == b.as_string();
    case Value::Kind::list: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (&x == &y) return true;  // Python compares items by identity first, so a list equals itself
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::dict: {
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (&x == &y) return true;
      if (x.size() != y.size()) return false;
      for (const auto& [key, item] : x.items()) {
        const Value* other = y.find(key);
        if (other == nullptr || !equals(item, *other)) return false;
      }
      return true;
    }
    case Value::Kind::name_space: return &a.as_namespace() == &b.as_namespace();
    case Value::Kind::callable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

int compare(const Value& a, const Value& b) {
  require_defined(a);
  require_defined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return sign(a.as_double() - b.as_double());
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  }
  // UTF-8 byte order is code point order, which is Python's str order.
  if (a.is_string() && b.is_string()) return a.as_string().compare(b.as_string()) < 0 ? -1 : a.as_string() == b.as_string() ? 0 : 1;
  if (a.is_list() && b.is_list()) {
    const ValueWalkLevel level("ordering");
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw Error("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

bool contains(const Value& haystack, const Value& needle) {
  require_defined(haystack);
  if (haystack.is_string()) {
    if (!needle.is_string()) {
      throw Error("'in <string>' requires string as left operand, not " + type_name(needle));
    }
    return haystack.as_string().find(needle.as_string()) != std::string::npos;
  }
  if (haystack.is_dict()) return needle.is_string() && haystack.as_dict().find(needle.as_string()) != nullptr;
  if (haystack.is_list()) {
    for (const auto& item : haystack.as_list()) {
      if (equals(item, needle)) return true;
    }
    return false;
  }
  throw Error("argument of type '" + type_name(haystack) + "' is not iterable");
}

List iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::undefined: return {};
    case Value::Kind::list: return value.as_list();
    case Value::Kind::dict: {
      List keys;
      for (const auto& item : value.as_dict().items()) keys.emplace_back(item.first);
      return keys;
    }
    case Value::Kind::string: {
      const auto code_points = utf8_to_code_points(value.as_string());
      require_list_fits(code_points.size(), "a string's characters");
      List characters;
      characters.reserve(code_points.size());
      for (const char32_t c : code_points) {
        characters.emplace_back(code_points_to_utf8(std::u32string(1, c)));
      }
      return characters;
    }
    default: throw Error("'" + type_name(value) + "' object is not iterable");
  }
}

void require_defined(const Value& value) {
  if (value.is_undefined()) throw Error(value.as_undefined().what);
}

}  // namespace ladle::text::jinja
