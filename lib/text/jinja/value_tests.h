// Jinja's tests ("x is defined", "x is not none", "x is string"...), jinja2.tests as of 3.1.
#pragma once

#include <string>

#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

// Whether the test `name` holds for value. Throws ladle::Error naming an unknown test or bad arguments.
bool apply_test(const std::string& name, const Value& value, const CallArguments& arguments);

}  // namespace ladle::text::jinja
