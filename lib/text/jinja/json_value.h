// JSON to template values, as Python's json.loads gives them to Jinja: objects keep their key order, integers
// stay int and numbers with a fraction or exponent become float.
#pragma once

#include <nlohmann/json.hpp>

#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

Value from_json(const nlohmann::ordered_json& json);

}  // namespace ladle::text::jinja
