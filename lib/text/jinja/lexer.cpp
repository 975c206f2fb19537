#include "lib/text/jinja/lexer.h"

#include <cctype>

#include "lib/text/jinja/template_error.h"
#include "lib/text/jinja/unicode.h"
#include "lib/text/utf8.h"

namespace ladle::text::jinja {
namespace {

// "\r\n" and "\r" become "\n"; one trailing newline goes unless kept.
std::string normalise_newlines(const std::string& source, bool keep_trailing_newline) {
  std::string out;
  out.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Bytes of Python whitespace (\s) starting at pos.
std::size_t space_run(const std::string& text, std::size_t pos) {
  std::size_t end = pos;
  while (end < text.size()) {
    std::size_t length = 0;
    if (!is_python_space(decode_code_point(text, end, &length))) break;
    end += length;
  }
  return end - pos;
}

// Python's str.rstrip(): text without its trailing whitespace.
std::string rstrip_space(const std::string& text) {
  std::size_t keep = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t length = 0;
    if (!is_python_space(decode_code_point(text, pos, &length))) keep = pos + length;
    pos += length;
  }
  return text.substr(0, keep);
}

int count_newlines(const std::string& text, std::size_t from, std::size_t to) {
  int n = 0;
  for (std::size_t i = from; i < to; ++i) n += text[i] == '\n';
  return n;
}

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(std::string source, const std::string& name, const LexerOptions& options)
      : source_(std::move(source)), name_(name), options_(options) {}

  std::vector<Token> run() {
    while (pos_ < source_.size()) {
      const auto tag = next_tag_start();
      if (tag == std::string::npos) {
        emit(TokenKind::text, source_.substr(pos_), line_);
        advance_to(source_.size());
        break;
      }
      lex_text_before(tag);
      const char type = source_[tag + 1];
      const bool has_sign = tag + 2 < source_.size() && (source_[tag + 2] == '-' || source_[tag + 2] == '+');
      advance_to(tag + 2 + (has_sign ? 1 : 0));
      if (type == '#') {
        lex_comment();
      } else {
        lex_tag(type == '{');
      }
    }
    emit(TokenKind::end, "", line_);
    return std::move(tokens_);
  }

 private:
  std::size_t next_tag_start() const {
    std::size_t at = pos_;
    while ((at = source_.find('{', at)) != std::string::npos) {
      if (at + 1 < source_.size() && (source_[at + 1] == '{' || source_[at + 1] == '%' || source_[at + 1] == '#')) {
        return at;
      }
      ++at;
    }
    return std::string::npos;
  }

  // The data before a tag, with "{{-"/"{%-" stripping and lstrip_blocks applied (Lexer.tokeniter's
  // OptionalLStrip).
  void lex_text_before(std::size_t tag) {
    std::string text = source_.substr(pos_, tag - pos_);
    const int line = line_;
    const char type = source_[tag + 1];
    const char sign = tag + 2 < source_.size() ? source_[tag + 2] : '\0';
    if (sign == '-') {
      text = rstrip_space(text);
    } else if (sign != '+' && options_.lstrip_blocks && type != '{') {
      const auto line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      if ((line_start > 0 || line_starting_) && line_start < text.size() &&
          space_run(text, line_start) == text.size() - line_start) {
        text.resize(line_start);
      }
    }
    if (!text.empty()) emit(TokenKind::text, text, line);
    advance_to(tag);
  }

  void lex_comment() {
    const int line = line_;
    const auto close = source_.find("#}", pos_);
    if (close == std::string::npos) throw TemplateError(name_, line, "missing end of comment tag");
    const char sign = close > pos_ ? source_[close - 1] : '\0';
    advance_to(close + 2);
    finish_tag(sign, true);
  }

  // What follows a tag's end: "-" strips all whitespace, "+" keeps it, trim_blocks drops one newline after a
  // block or comment tag.
  void finish_tag(char sign, bool is_block) {
    const auto tag_end = pos_;
    if (sign == '-') {
      advance_to(pos_ + space_run(source_, pos_));
    } else if (sign != '+' && is_block && options_.trim_blocks && pos_ < source_.size() && source_[pos_] == '\n') {
      advance_to(pos_ + 1);
    }
    // A line starts after the tag when what the tag's end consumed ends in a newline.
    line_starting_ = pos_ > tag_end ? source_[pos_ - 1] == '\n' : false;
  }

  void lex_tag(bool is_variable) {
    emit(is_variable ? TokenKind::variable_begin : TokenKind::block_begin, "", line_);
    const int open_line = line_;
    const std::string close = is_variable ? "}}" : "%}";
    std::vector<char> brackets;
    while (true) {
      if (pos_ >= source_.size()) {
        throw TemplateError(name_, open_line, std::string("missing end of ") + (is_variable ? "variable" : "block") +
                                                  " tag '" + close + "'");
      }
      if (brackets.empty()) {
        for (const char sign : {'-', '+', '\0'}) {
          if (sign == '+' && is_variable) continue;
          const std::size_t skip = sign ? 1 : 0;
          if ((skip == 0 || source_[pos_] == sign) && source_.compare(pos_ + skip, 2, close) == 0) {
            emit(is_variable ? TokenKind::variable_end : TokenKind::block_end, "", line_);
            advance_to(pos_ + skip + 2);
            finish_tag(sign, !is_variable);
            return;
          }
        }
      }
      lex_tag_token(brackets);
    }
  }

  void lex_tag_token(std::vector<char>& brackets) {
    const char c = source_[pos_];
    if (const auto space = space_run(source_, pos_)) {
      advance_to(pos_ + space);
    } else if (c == '\'' || c == '"') {
      lex_string(c);
    } else if (is_digit(c)) {
      lex_number();
    } else if (is_name_start(c)) {
      auto end = pos_;
      while (end < source_.size() && is_name_char(source_[end])) ++end;
      emit(TokenKind::name, source_.substr(pos_, end - pos_), line_);
      advance_to(end);
    } else {
      lex_operator(brackets);
    }
  }

  void lex_operator(std::vector<char>& brackets) {
    static const char* const kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo) {
      if (source_.compare(pos_, 2, op) == 0) {
        emit(TokenKind::op, op, line_);
        advance_to(pos_ + 2);
        return;
      }
    }
    const char c = source_[pos_];
    if (std::string("+-/*%~[](){}><=.:|,;").find(c) == std::string::npos) {
      throw TemplateError(name_, line_, std::string("unexpected character '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c);
    if (c == ')' || c == ']' || c == '}') {
      const char open = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (brackets.empty()) throw TemplateError(name_, line_, std::string("unexpected '") + c + "'");
      if (brackets.back() != open) {
        throw TemplateError(name_, line_, std::string("unexpected '") + c + "', expected the close of '" +
                                              brackets.back() + "'");
      }
      brackets.pop_back();
    }
    emit(TokenKind::op, std::string(1, c), line_);
    advance_to(pos_ + 1);
  }

  // Digits with optional underscores, then a fraction and/or an exponent for a float.
  void lex_number() {
    auto digits = [&](std::size_t at) {
      while (at < source_.size() && (is_digit(source_[at]) || (source_[at] == '_' && at + 1 < source_.size() &&
                                                                 is_digit(source_[at + 1])))) {
        ++at;
      }
      return at;
    };
    auto end = digits(pos_);
    bool is_float = false;
    if (end + 1 < source_.size() && source_[end] == '.' && is_digit(source_[end + 1])) {
      end = digits(end + 1);
      is_float = true;
    }
    if (end < source_.size() && (source_[end] == 'e' || source_[end] == 'E')) {
      auto at = end + 1;
      if (at < source_.size() && (source_[at] == '+' || source_[at] == '-')) ++at;
      if (at < source_.size() && is_digit(source_[at])) {
        end = digits(at);
        is_float = true;
      }
    }
    std::string text;
    for (auto i = pos_; i < end; ++i) {
      if (source_[i] != '_') text += source_[i];
    }
    emit(is_float ? TokenKind::floating : TokenKind::integer, text, line_);
    advance_to(end);
  }

  // A quoted string with Python's escapes (the lexer decodes literals with the unicode-escape codec); an
  // unknown escape keeps its backslash, as Python does.
  void lex_string(char quote) {
    const int line = line_;
    std::string value;
    auto at = pos_ + 1;
    while (true) {
      if (at >= source_.size()) throw TemplateError(name_, line, "unterminated string literal");
      const char c = source_[at];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++at;
        continue;
      }
      if (at + 1 >= source_.size()) throw TemplateError(name_, line, "unterminated string literal");
      at = decode_escape(at + 1, value, line);
    }
    emit(TokenKind::string, value, line);
    advance_to(at + 1);
  }

  // Decodes the escape whose letter is at `at` into value; returns the position after it.
  std::size_t decode_escape(std::size_t at, std::string& value, int line) {
    const char e = source_[at];
    switch (e) {
      case '\n': return at + 1;  // a line continuation
      case '\\': value += '\\'; return at + 1;
      case '\'': value += '\''; return at + 1;
      case '"': value += '"'; return at + 1;
      case 'a': value += '\a'; return at + 1;
      case 'b': value += '\b'; return at + 1;
      case 'f': value += '\f'; return at + 1;
      case 'n': value += '\n'; return at + 1;
      case 'r': value += '\r'; return at + 1;
      case 't': value += '\t'; return at + 1;
      case 'v': value += '\v'; return at + 1;
      default: break;
    }
    if (e >= '0' && e <= '7') {
      char32_t code = 0;
      auto end = at;
      while (end < at + 3 && end < source_.size() && source_[end] >= '0' && source_[end] <= '7') {
        code = code * 8 + (source_[end++] - '0');
      }
      value += code_points_to_utf8(std::u32string(1, code));
      return end;
    }
    const int hex_digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (hex_digits == 0) {
      if (e == 'N') throw TemplateError(name_, line, "unsupported string escape '\\N{...}'");
      value += '\\';
      return at;  // the character after the backslash is read as itself
    }
    char32_t code = 0;
    for (int k = 1; k <= hex_digits; ++k) {
      const char h = at + k < source_.size() ? source_[at + k] : '\0';
      if (!std::isxdigit(static_cast<unsigned char>(h))) {
        throw TemplateError(name_, line, std::string("truncated \\") + e + " escape in a string literal");
      }
      code = code * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                                                                          : (std::tolower(h) - 'a' + 10));
    }
    if (code > 0x10FFFF) throw TemplateError(name_, line, "illegal Unicode character in a string literal");
    value += code_points_to_utf8(std::u32string(1, code));
    return at + 1 + hex_digits;
  }

  void emit(TokenKind kind, std::string value, int line) { tokens_.push_back({kind, std::move(value), line}); }

  void advance_to(std::size_t to) {
    line_ += count_newlines(source_, pos_, to);
    pos_ = to;
  }

  std::string source_;
  const std::string& name_;
  const LexerOptions& options_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;  // the text before the next tag starts at the beginning of a line
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& template_name, const LexerOptions& options) {
  return Lexer(normalise_newlines(source, options.keep_trailing_newline), template_name, options).run();
}

}  // namespace ladle::text::jinja
