// Attribute and item access as Jinja's sandboxed environment does it (jinja2.sandbox.SandboxedEnvironment
// getattr/getitem): x.name tries the attribute (a method of str or dict) then the item; x[key] tries the item
// then, for a string key, the attribute. What neither finds is undefined. Methods that would modify a list or
// dict are unsafe under ImmutableSandboxedEnvironment and come back undefined with that reason.
#pragma once

#include <string>

#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

// Throws ladle::Error when object is undefined (an attribute of an undefined value).
Value get_attribute(const Value& object, const std::string& name);
// Throws ladle::Error when object is undefined.
Value get_item(const Value& object, const Value& key);

}  // namespace ladle::text::jinja
