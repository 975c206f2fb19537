// Jinja's filters as chat templates use them (jinja2.filters as of 3.1, with Hugging Face's tojson): trim,
// tojson, length/count, items, upper, lower, title, capitalize, default/d, join, first, last, string, int,
// float, abs, round, replace, list, reverse, sort, sum, min, max, map, select, reject, selectattr, rejectattr,
// indent, safe, escape/e.
#pragma once

#include <string>

#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

// The filter `name` applied to input. Throws ladle::Error naming an unknown filter or bad arguments.
Value apply_filter(const std::string& name, const Value& input, const CallArguments& arguments);

}  // namespace ladle::text::jinja
