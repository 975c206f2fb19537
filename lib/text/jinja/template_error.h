// TemplateError: what went wrong where in a template ("chat_template:12: unsupported tag 'include'").
#pragma once

#include <string>

#include "lib/util/error.h"

namespace ladle::text::jinja {

class TemplateError : public Error {
 public:
  TemplateError(const std::string& template_name, int line, const std::string& what)
      : Error(template_name + ":" + std::to_string(line) + ": " + what), line_(line) {}

  int line() const { return line_; }  // 1-based line of the template the error is about

 private:
  int line_;
};

}  // namespace ladle::text::jinja
