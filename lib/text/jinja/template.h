// Template: a Jinja template as Hugging Face renders chat templates, compiled once and rendered many times.
//
// What it implements (what the chat templates of current models use): {{ }}, {% if/elif/else %},
// {% for %} with an "if" filter, else, and loop.index/index0/revindex/revindex0/first/last/length/previtem/
// nextitem/cycle/depth, {% set %} (names, unpacking, namespace attributes, blocks), {% macro %} and calls,
// {% break %}/{% continue %}, {% generation %}, whitespace control, comments; literals (strings with Python's
// escapes, numbers, lists, dicts, tuples), operators (+ - * / // % ** ~, comparisons and chains, in, not in,
// and/or/not, is [not] TEST, x if c else y), attribute and item access, slices, the filters of filters.h, the
// tests of value_tests.h, the str and dict methods of methods.h, and the globals of renderer.h. Anything else
// (include, extends, call blocks, recursive loops, ...) is a TemplateError naming it and its line.
//
// The reference is python3-jinja2 3.1 in transformers' environment (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, the loopcontrols extension, raise_exception, strftime_now, and tojson as
// json.dumps(ensure_ascii=False)); tests/text/jinja_template_test.cpp compares outputs byte for byte.
#pragma once

#include <string>

#include "lib/text/jinja/ast.h"
#include "lib/text/jinja/lexer.h"
#include "lib/text/jinja/renderer.h"
#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

struct TemplateOptions {
  LexerOptions lexer;   // whitespace handling (Hugging Face's settings by default)
  RenderLimits limits;  // bounds on one render
};

class Template {
 public:
  // Throws TemplateError naming `name` and the line for a syntax error or an unsupported construct.
  explicit Template(const std::string& source, std::string name = "template", TemplateOptions options = {});

  // Throws TemplateError for a run-time error (raise_exception, an undefined value used, a limit exceeded).
  std::string render(const Dict& variables) const;

  const std::string& name() const { return program_.name; }

 private:
  Program program_;
  TemplateOptions options_;
};

}  // namespace ladle::text::jinja
