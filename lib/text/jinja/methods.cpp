#include "lib/text/jinja/methods.h"

#include <set>

#include "lib/text/jinja/arguments.h"
#include "lib/text/jinja/python_str.h"
#include "lib/text/jinja/unicode.h"
#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::jinja {
namespace {

std::optional<std::string> optional_string(const BoundArguments& args, std::size_t i, const std::string& function) {
  const Value& value = args.get(i, Value(None{}));
  if (value.is_none()) return std::nullopt;
  if (!value.is_string()) throw Error(function + "() argument must be str or None, not " + type_name(value));
  return value.as_string();
}

const std::string& string_argument(const Value& value, const std::string& function) {
  if (!value.is_string()) throw Error(function + "() argument must be str, not " + type_name(value));
  return value.as_string();
}

long long int_argument(const Value& value, const std::string& function) {
  if (!value.is_int() && !value.is_bool()) {
    throw Error(function + "() argument must be an integer, not " + type_name(value));
  }
  return value.as_int();
}

// startswith/endswith: a prefix or a list (tuple) of prefixes.
bool affix_matches(const std::string& s, const Value& affixes, bool at_start, const std::string& function) {
  const auto matches = [&](const Value& affix) {
    const auto& a = string_argument(affix, function);
    if (a.size() > s.size()) return false;
    return at_start ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (!affixes.is_list()) return matches(affixes);
  for (const auto& affix : affixes.as_list()) {
    if (matches(affix)) return true;
  }
  return false;
}

Value to_list(const std::vector<std::string>& parts) {
  List list;
  for (const auto& part : parts) list.emplace_back(part);
  return Value(std::move(list));
}

std::optional<Value> string_method(const std::string& s, const std::string& name) {
  const std::string function = "str." + name;
  auto bind = [&](auto body) { return Value(Callable{function, body}); };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const auto side = name == "strip" ? StripSide::both : name == "lstrip" ? StripSide::left : StripSide::right;
    return bind([s, side, function](const CallArguments& call) {
      BoundArguments args(call, function, {"chars"});
      return Value(python_strip(s, optional_string(args, 0, function), side));
    });
  }
  if (name == "split") {
    return bind([s, function](const CallArguments& call) {
      BoundArguments args(call, function, {"sep", "maxsplit"});
      return to_list(python_split(s, optional_string(args, 0, function), int_argument(args.get(1, Value(-1)), function)));
    });
  }
  if (name == "splitlines") {
    return bind([s, function](const CallArguments& call) {
      BoundArguments args(call, function, {});
      return to_list(python_splitlines(s));
    });
  }
  if (name == "startswith" || name == "endswith") {
    const bool at_start = name == "startswith";
    return bind([s, at_start, function](const CallArguments& call) {
      BoundArguments args(call, function, {"prefix"}, 1);
      return Value(affix_matches(s, args[0], at_start, function));
    });
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    return bind([s, name, function](const CallArguments& call) {
      BoundArguments args(call, function, {});
      if (name == "upper") return Value(python_upper(s));
      if (name == "lower") return Value(python_lower(s));
      return Value(name == "title" ? python_title(s) : python_capitalize(s));
    });
  }
  if (name == "replace") {
    return bind([s, function](const CallArguments& call) {
      BoundArguments args(call, function, {"old", "new", "count"}, 2);
      return Value(python_replace(s, string_argument(args[0], function), string_argument(args[1], function),
                                  int_argument(args.get(2, Value(-1)), function)));
    });
  }
  if (name == "find" || name == "count") {
    const bool find = name == "find";
    return bind([s, find, function](const CallArguments& call) {
      BoundArguments args(call, function, {"sub"}, 1);
      const auto& sub = string_argument(args[0], function);
      if (find) {
        const auto at = s.find(sub);
        return Value(at == std::string::npos ? std::int64_t{-1} : static_cast<std::int64_t>(code_point_count(s.substr(0, at))));
      }
      if (sub.empty()) return Value(static_cast<std::int64_t>(code_point_count(s) + 1));
      std::int64_t n = 0;
      for (auto at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
      return Value(n);
    });
  }
  if (name == "join") {
    return bind([s, function](const CallArguments& call) {
      BoundArguments args(call, function, {"iterable"}, 1);
      std::vector<std::string> parts;
      for (const auto& item : iterate(args[0])) parts.push_back(string_argument(item, function));
      return Value(python_join(s, parts));
    });
  }
  if (name == "isdigit" || name == "isspace") {
    const bool digit = name == "isdigit";
    return bind([s, digit, function](const CallArguments& call) {
      BoundArguments args(call, function, {});
      const auto text = utf8_to_code_points(s);
      bool all = !text.empty();
      for (const char32_t c : text) all = all && (digit ? (c >= '0' && c <= '9') : is_python_space(c));
      return Value(all);
    });
  }
  return std::nullopt;
}

std::optional<Value> dict_method(const Value& dict, const std::string& name) {
  const std::string function = "dict." + name;
  if (name == "items" || name == "keys" || name == "values") {
    return Value(Callable{function, [dict, name, function](const CallArguments& call) {
                            BoundArguments args(call, function, {});
                            List out;
                            for (const auto& [key, value] : dict.as_dict().items()) {
                              if (name == "items") out.push_back(Value::tuple({Value(key), value}));
                              if (name == "keys") out.emplace_back(key);
                              if (name == "values") out.push_back(value);
                            }
                            return Value(std::move(out));
                          }});
  }
  if (name == "get") {
    return Value(Callable{function, [dict, function](const CallArguments& call) {
                            BoundArguments args(call, function, {"key", "default"}, 1);
                            const Value* found =
                                args[0].is_string() ? dict.as_dict().find(args[0].as_string()) : nullptr;
                            return found ? *found : args.get(1, Value(None{}));
                          }});
  }
  return std::nullopt;
}

}  // namespace

std::optional<Value> bound_method(const Value& object, const std::string& name) {
  if (object.is_string()) return string_method(object.as_string(), name);
  if (object.is_dict()) return dict_method(object, name);
  return std::nullopt;
}

bool is_mutating_method(const Value& object, const std::string& name) {
  // jinja2.sandbox._mutable_spec: the methods of list and dict that change them.
  static const std::set<std::string> list_methods = {"append", "clear", "extend", "insert", "pop", "remove",
                                                     "reverse", "sort", "__setitem__", "__delitem__"};
  static const std::set<std::string> dict_methods = {"clear", "pop", "popitem", "setdefault", "update",
                                                     "__setitem__", "__delitem__"};
  if (object.is_list()) return list_methods.count(name) > 0;
  if (object.is_dict()) return dict_methods.count(name) > 0;
  return false;
}

}  // namespace ladle::text::jinja
