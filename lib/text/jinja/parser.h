// The template parser: tokens to a Program, for the statements and expressions chat templates use (see
// template.h for the list). A tag or construct outside it is a TemplateError naming it and its line, never a
// silent approximation.
#pragma once

#include <string>
#include <vector>

#include "lib/text/jinja/ast.h"
#include "lib/text/jinja/lexer.h"

namespace ladle::text::jinja {

// Expressions nested deeper than this are an error (templates are untrusted input; Python's parser has a
// recursion limit too).
inline constexpr int kMaxNesting = 200;

// Throws TemplateError for a syntax error, an unsupported tag, or nesting deeper than kMaxNesting.
Program parse(const std::vector<Token>& tokens, const std::string& template_name);

}  // namespace ladle::text::jinja
