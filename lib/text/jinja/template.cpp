#include "lib/text/jinja/template.h"

#include "lib/text/jinja/parser.h"

namespace ladle::text::jinja {

Template::Template(const std::string& source, std::string name, TemplateOptions options)
    : program_(parse(tokenize(source, name, options.lexer), name)), options_(options) {}

std::string Template::render(const Dict& variables) const { return jinja::render(program_, variables, options_.limits); }

}  // namespace ladle::text::jinja
