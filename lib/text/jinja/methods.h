// The Python methods templates call on strings and dicts (message.content.strip(), .split(), .startswith(),
// .endswith(), .lstrip()/.rstrip(), message.items(), .keys(), .values(), .get()), bound to their object.
#pragma once

#include <optional>
#include <string>

#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

// The method `name` of object bound to it, or nullopt when object's type has no such safe method.
std::optional<Value> bound_method(const Value& object, const std::string& name);
// Whether name is a method of object's type that modifies it (list.append, dict.update, ...): the
// immutable sandbox refuses these.
bool is_mutating_method(const Value& object, const std::string& name);

}  // namespace ladle::text::jinja
