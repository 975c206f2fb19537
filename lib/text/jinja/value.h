// Value: what a template expression evaluates to, with Python's semantics (the reference engine, python3-jinja2,
// is Python): undefined, None, bool, int, float, str, list, dict, namespace and callables. Lists and dicts are
// immutable, as under Hugging Face's ImmutableSandboxedEnvironment; a namespace is the one mutable object
// ({% set ns.x = ... %}), shared by reference as in Python.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ladle::text::jinja {

class Value;
using List = std::vector<Value>;

// Containers nested deeper than this stop the operations that walk them (print, ==, ordering, tojson, reading
// JSON) with an error, as Python's RecursionError stops jinja2: the walk would otherwise overflow the stack. A
// template can build such a value ({% set ns.x = [ns.x] %} in a loop); real data is nested a few levels.
inline constexpr int kMaxValueNesting = 512;

// A dict with string keys, in insertion order (Python dicts keep it; tojson and items() show it).
class Dict {
 public:
  using Item = std::pair<std::string, Value>;

  // The value of key, or nullptr.
  const Value* find(std::string_view key) const;
  // Replaces the value of key, or appends key at the end.
  void set(std::string key, Value value);
  const std::vector<Item>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }
  // Moves the values out, leaving the dict empty.
  void release_values_into(std::vector<Value>& out);

 private:
  std::vector<Item> items_;
};

// The object namespace() makes: attributes a template may assign inside loops (Jinja's scoping keeps a plain
// {% set %} in a loop body local to that iteration).
struct Namespace {
  Dict attributes;
};

// The arguments of a call: positional, then keyword, in the order written.
struct CallArguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A function a template can call: a global (range, namespace, raise_exception), a macro, or a bound method.
struct Callable {
  std::string name;                                 // for messages: "range", "macro 'render'", "str.strip"
  std::function<Value(const CallArguments&)> call;  // throws ladle::Error with what went wrong
};

// Jinja's default Undefined: a missing variable, attribute or item. It prints as "" and is false; using it any
// other way (an attribute of it, arithmetic, tojson) is an error naming what was missing.
struct Undefined {
  std::string what;  // e.g. "'tools' is undefined", "'dict object' has no attribute 'tool_calls'"
};

struct None {};

class Value {
 public:
  enum class Kind { undefined, none, boolean, integer, floating, string, list, dict, name_space, callable };

  Value() : data_(Undefined{"undefined value"}) {}
  Value(Undefined undefined) : data_(std::move(undefined)) {}
  Value(None) : data_(None{}) {}
  Value(bool b) : data_(b) {}
  Value(int i) : data_(static_cast<std::int64_t>(i)) {}
  Value(std::int64_t i) : data_(i) {}
  Value(double f) : data_(f) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(const char* s) : data_(std::string(s)) {}
  // The containers are made non-const and shared as const, so that the last owner may empty them (~Value).
  Value(List list) : data_(std::shared_ptr<const List>(std::make_shared<List>(std::move(list)))) {}
  Value(Dict dict) : data_(std::shared_ptr<const Dict>(std::make_shared<Dict>(std::move(dict)))) {}
  Value(std::shared_ptr<Namespace> ns) : data_(std::move(ns)) {}
  Value(Callable callable) : data_(std::make_shared<const Callable>(std::move(callable))) {}
  // A tuple: a list everywhere except in repr, where it prints as (a, b).
  static Value tuple(List items) {
    Value value(std::move(items));
    value.tuple_ = true;
    return value;
  }

  Value(const Value&) = default;
  Value(Value&&) noexcept = default;
  Value& operator=(const Value&) = default;
  Value& operator=(Value&&) noexcept = default;
  // Destroys nested containers this value alone owns one level at a time: the default destructor recurses once
  // per level and overflows the stack on a deep value.
  ~Value();

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_int() const { return kind() == Kind::integer; }
  bool is_float() const { return kind() == Kind::floating; }
  // int, float or bool (bool is an int in Python).
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == Kind::string; }
  bool is_list() const { return kind() == Kind::list; }
  bool is_tuple() const { return is_list() && tuple_; }
  bool is_dict() const { return kind() == Kind::dict; }
  bool is_namespace() const { return kind() == Kind::name_space; }
  bool is_callable() const { return kind() == Kind::callable; }

  bool as_bool() const { return std::get<bool>(data_); }
  std::int64_t as_int() const { return is_bool() ? as_bool() : std::get<std::int64_t>(data_); }
  // An int, bool or float as a double.
  double as_double() const { return is_float() ? std::get<double>(data_) : static_cast<double>(as_int()); }
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(data_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(data_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  const Undefined& as_undefined() const { return std::get<Undefined>(data_); }

 private:
  // Moves the items of the container this value alone owns into `out`, leaving the container empty.
  void release_items_into(std::vector<Value>& out);

  std::variant<Undefined, None, bool, std::int64_t, double, std::string, std::shared_ptr<const List>,
               std::shared_ptr<const Dict>, std::shared_ptr<Namespace>, std::shared_ptr<const Callable>>
      data_;
  bool tuple_ = false;
};

// Python's type name ("str", "int", "NoneType", "dict", ...), for messages.
std::string type_name(const Value& value);
// str(value) as {{ value }} prints it: "" for undefined, "None", "True", Python's float repr, lists and dicts
// as Python's repr writes them.
std::string to_str(const Value& value);
// repr(value): strings quoted as Python quotes them.
std::string repr(const Value& value);
// Python's repr of a float: the shortest digits that read back exactly, "1.0", "1e+16", "inf", "nan".
std::string float_repr(double f);
// Python's bool(value); undefined is false.
bool truthy(const Value& value);
// Python's ==: numbers by value across int/float/bool, containers element by element; undefined equals
// only undefined.
bool equals(const Value& a, const Value& b);
// Python's ordering (<0, 0, >0) of two numbers, two strings or two lists; throws ladle::Error for any other
// pair, as Python raises TypeError.
int compare(const Value& a, const Value& b);
// Python's `needle in haystack` for a str (substring), list (an equal item) or dict (a key) haystack. Throws
// ladle::Error for any other haystack, or a non-string needle in a string.
bool contains(const Value& haystack, const Value& needle);
// The items a for loop visits: a list's items, a dict's keys, a string's characters (code points), nothing for
// undefined. Throws ladle::Error for anything else ("'int' object is not iterable").
List iterate(const Value& value);
// Throws ladle::Error with the undefined value's message when value is undefined.
void require_defined(const Value& value);

}  // namespace ladle::text::jinja
