// The template lexer: source text to tokens, with Jinja's whitespace rules as Hugging Face configures them
// (transformers chat_template_utils: trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False).
//
//   {{ expr }}    variable tag          "{{-" / "-}}" strip all whitespace before / after the tag
//   {% stmt %}    block tag             "{%+" / "+%}" turn off lstrip_blocks / trim_blocks for that tag
//   {# text #}    comment (dropped)
//
// trim_blocks removes the first newline after a block or comment tag; lstrip_blocks removes spaces and tabs
// from the start of a line up to a block or comment tag (not a variable tag). Newlines are normalised to "\n"
// and one trailing newline of the source is dropped (jinja2.lexer.Lexer.tokeniter).
#pragma once

#include <string>
#include <vector>

namespace ladle::text::jinja {

enum class TokenKind {
  text,            // template data, output as is
  variable_begin,  // {{
  variable_end,    // }}
  block_begin,     // {%
  block_end,       // %}
  name,            // identifier or keyword
  string,          // a string literal, escapes decoded
  integer,         // digits (underscores removed)
  floating,        // a float literal (underscores removed)
  op,              // an operator or bracket: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { }
  end,             // end of the source
};

struct Token {
  TokenKind kind = TokenKind::end;
  std::string value;  // the text, decoded string, digits or operator
  int line = 1;       // 1-based line where the token starts
};

struct LexerOptions {
  bool trim_blocks = true;    // remove the first newline after a block or comment tag (HF: true; Jinja: false)
  bool lstrip_blocks = true;  // strip whitespace from a line's start to a block tag (HF: true; Jinja: false)
  bool keep_trailing_newline = false;  // keep the source's last newline (HF and Jinja: false)
};

// Throws TemplateError (naming template_name and the line) for an unclosed tag, comment or string, or a
// character no token starts with.
std::vector<Token> tokenize(const std::string& source, const std::string& template_name,
                            const LexerOptions& options = {});

}  // namespace ladle::text::jinja
