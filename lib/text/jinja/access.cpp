#include "lib/text/jinja/access.h"

#include "lib/text/jinja/methods.h"
#include "lib/text/jinja/python_str.h"
#include "lib/text/utf8.h"

namespace ladle::text::jinja {
namespace {

// How Jinja names an object's type in "has no attribute" messages: "'dict object'", "None".
std::string object_description(const Value& object) {
  if (object.is_none()) return "None";
  return "'" + type_name(object) + " object'";
}

Value missing_attribute(const Value& object, const std::string& name) {
  return Value(Undefined{object_description(object) + " has no attribute '" + name + "'"});
}

// The attribute proper (a method, a namespace's attribute, the sandbox's refusal), or nullopt.
std::optional<Value> attribute_of(const Value& object, const std::string& name) {
  if (is_mutating_method(object, name)) {
    return Value(Undefined{"access to attribute '" + name + "' of '" + type_name(object) + "' object is unsafe."});
  }
  if (object.is_namespace()) {
    const Value* found = object.as_namespace().attributes.find(name);
    if (found) return *found;
    return std::nullopt;
  }
  return bound_method(object, name);
}

// The item proper (a dict's value, a list's or string's element), or nullopt.
std::optional<Value> item_of(const Value& object, const Value& key) {
  if (object.is_dict() && key.is_string()) {
    const Value* found = object.as_dict().find(key.as_string());
    if (found) return *found;
    return std::nullopt;
  }
  if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
    if (object.is_list()) {
      const auto size = static_cast<std::int64_t>(object.as_list().size());
      auto index = key.as_int();
      if (index < 0) index += size;
      if (index < 0 || index >= size) return std::nullopt;
      return object.as_list()[index];
    }
    const auto text = utf8_to_code_points(object.as_string());
    const auto size = static_cast<std::int64_t>(text.size());
    auto index = key.as_int();
    if (index < 0) index += size;
    if (index < 0 || index >= size) return std::nullopt;
    return Value(code_points_to_utf8(std::u32string(1, text[index])));
  }
  return std::nullopt;
}

}  // namespace

Value get_attribute(const Value& object, const std::string& name) {
  require_defined(object);
  if (auto attribute = attribute_of(object, name)) return *attribute;
  if (auto item = item_of(object, Value(name))) return *item;
  return missing_attribute(object, name);
}

Value get_item(const Value& object, const Value& key) {
  require_defined(object);
  if (auto item = item_of(object, key)) return *item;
  if (key.is_string()) {
    if (auto attribute = attribute_of(object, key.as_string())) return *attribute;
    return missing_attribute(object, key.as_string());
  }
  return Value(Undefined{object_description(object) + " has no element " + repr(key)});
}

}  // namespace ladle::text::jinja
