// The renderer: walks a parsed Program with a set of variables and writes its output, with Jinja's scoping
// (a {% set %} inside a loop body stays in that iteration; namespace() attributes outlive it; macros see the
// scope they were defined in), the loop variable, macros, and the globals Hugging Face's chat-template
// environment adds: raise_exception(message) and strftime_now(format), besides Jinja's range, namespace, dict.
//
// Templates are untrusted input: every render is bounded (steps, output size, macro call depth, range
// length), and anything a template gets wrong is a TemplateError naming its line, never a crash.
#pragma once

#include <cstddef>
#include <string>

#include "lib/text/jinja/ast.h"
#include "lib/text/jinja/string_size_limit.h"
#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

struct RenderLimits {
  std::size_t max_steps = 50'000'000;           // expressions and statements evaluated, in all
  // Bytes of output, of any one string built or returned by a filter or call, and of a list repeated or
  // concatenated; filters and methods never build a string longer than kMaxStringBytes whatever this says.
  std::size_t max_output_bytes = kMaxStringBytes;
  int max_call_depth = 100;                     // macros calling macros (Python's recursion limit stops Jinja)
  std::int64_t max_range = 100'000;             // items of range() (jinja2.sandbox.MAX_RANGE)
};

// Throws TemplateError for anything the template gets wrong at run time (an undefined value used, a type error,
// raise_exception, a limit exceeded).
std::string render(const Program& program, const Dict& variables, const RenderLimits& limits = {});

}  // namespace ladle::text::jinja
