#include "lib/text/jinja/parser.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "lib/text/jinja/template_error.h"

namespace ladle::text::jinja {
namespace {

// Tags of Jinja (or its extensions) that chat templates do not use and this engine does not implement.
const std::set<std::string> kUnsupportedTags = {
    "include", "import", "from", "extends", "block", "call", "filter", "with", "autoescape", "raw", "do",
    "trans", "pluralize", "debug"};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& name) : tokens_(tokens), name_(name) {}

  Program run() {
    Program program;
    program.name = name_;
    const auto end = parse_body({}, program.body);
    if (!end.empty()) fail(current().line, "unexpected '" + end + "'");
    return program;
  }

 private:
  // ---- statements ----

  // Statements up to a block tag whose name is in `ends` (consumed, its name returned) or the end of the
  // tokens (returns ""). An end tag that closes nothing here is an error.
  std::string parse_body(const std::set<std::string>& ends, Body& body) {
    while (true) {
      const Token& token = current();
      if (token.kind == TokenKind::end) {
        if (!ends.empty()) fail(token.line, "unexpected end of template, expected '" + *ends.begin() + "'");
        return "";
      }
      if (token.kind == TokenKind::text) {
        auto stmt = make_stmt(StmtKind::text, token.line);
        stmt->text = token.value;
        body.push_back(std::move(stmt));
        advance();
      } else if (token.kind == TokenKind::variable_begin) {
        advance();
        auto stmt = make_stmt(StmtKind::print, token.line);
        stmt->expr = parse_tuple(true);
        expect(TokenKind::variable_end, "end of print statement '}}'");
        body.push_back(std::move(stmt));
      } else if (token.kind == TokenKind::block_begin) {
        advance();
        const Token& tag = current();
        if (tag.kind != TokenKind::name) fail(tag.line, "expected a tag name after '{%'");
        if (ends.count(tag.value)) {
          advance();
          return tag.value;
        }
        body.push_back(parse_statement());
      } else {
        fail(token.line, "unexpected token '" + token.value + "'");
      }
    }
  }

  StmtPtr parse_statement() {
    Depth depth(*this);
    const Token& tag = current();
    const std::string& name = tag.value;
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "macro") return parse_macro();
    if (name == "break" || name == "continue") {
      advance();
      auto stmt = make_stmt(name == "break" ? StmtKind::break_ : StmtKind::continue_, tag.line);
      end_tag();
      return stmt;
    }
    if (name == "generation") {
      advance();
      auto stmt = make_stmt(StmtKind::generation, tag.line);
      end_tag();
      parse_body({"endgeneration"}, stmt->body);
      end_tag();
      return stmt;
    }
    if (kUnsupportedTags.count(name)) fail(tag.line, "unsupported tag '" + name + "'");
    fail(tag.line, "unknown tag '" + name + "'");
  }

  StmtPtr parse_if() {
    auto stmt = make_stmt(StmtKind::if_, current().line);
    advance();
    while (true) {
      Branch branch;
      branch.condition = parse_tuple(true);
      end_tag();
      const auto end = parse_body({"elif", "else", "endif"}, branch.body);
      stmt->branches.push_back(std::move(branch));
      if (end == "elif") continue;
      if (end == "else") {
        end_tag();
        parse_body({"endif"}, stmt->else_body);
      }
      end_tag();
      return stmt;
    }
  }

  StmtPtr parse_for() {
    auto stmt = make_stmt(StmtKind::for_, current().line);
    advance();
    stmt->targets = parse_targets();
    expect_name("in");
    stmt->expr = parse_tuple(false);
    if (accept_name("if")) stmt->condition = parse_expression(true);
    if (current().kind == TokenKind::name && current().value == "recursive") {
      fail(current().line, "unsupported construct 'recursive' loop");
    }
    end_tag();
    const auto end = parse_body({"else", "endfor"}, stmt->body);
    if (end == "else") {
      end_tag();
      parse_body({"endfor"}, stmt->else_body);
    }
    end_tag();
    return stmt;
  }

  StmtPtr parse_set() {
    auto stmt = make_stmt(StmtKind::set, current().line);
    advance();
    stmt->targets = parse_targets();
    if (stmt->targets.size() == 1 && accept_op(".")) {
      if (current().kind != TokenKind::name) fail(current().line, "expected an attribute name after '.'");
      stmt->text = current().value;
      advance();
    }
    if (accept_op("=")) {
      stmt->expr = parse_tuple(true);
      end_tag();
      return stmt;
    }
    if (current().kind == TokenKind::op && current().value == "|") {
      fail(current().line, "unsupported construct: a filtered block set");
    }
    if (stmt->targets.size() != 1 || !stmt->text.empty()) fail(stmt->line, "a block set takes one plain name");
    end_tag();
    parse_body({"endset"}, stmt->body);
    end_tag();
    return stmt;
  }

  StmtPtr parse_macro() {
    auto stmt = make_stmt(StmtKind::macro, current().line);
    advance();
    if (current().kind != TokenKind::name) fail(current().line, "expected the macro's name");
    stmt->text = current().value;
    advance();
    expect_op("(");
    while (!accept_op(")")) {
      if (!stmt->parameters.empty()) expect_op(",");
      if (current().kind != TokenKind::name) fail(current().line, "expected a parameter name");
      Parameter parameter{current().value, nullptr};
      advance();
      if (accept_op("=")) parameter.default_value = parse_expression(true);
      stmt->parameters.push_back(std::move(parameter));
    }
    end_tag();
    parse_body({"endmacro"}, stmt->body);
    end_tag();
    return stmt;
  }

  // "a", "a, b" or "(a, b)".
  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    const bool parenthesised = accept_op("(");
    do {
      if (current().kind != TokenKind::name) fail(current().line, "expected a variable name");
      names.push_back(current().value);
      advance();
    } while (accept_op(","));
    if (parenthesised) expect_op(")");
    return names;
  }

  // ---- expressions (jinja2.parser.Parser's precedence, loosest first) ----

  // "a, b" is a tuple (a list here) where Jinja's parse_tuple allows one.
  ExprPtr parse_tuple(bool with_condexpr) {
    const int line = current().line;
    auto first = parse_expression(with_condexpr);
    if (!(current().kind == TokenKind::op && current().value == ",")) return first;
    auto list = make_expr(ExprKind::tuple, line);
    list->children.push_back(std::move(first));
    while (accept_op(",")) {
      if (at_tuple_end()) break;
      list->children.push_back(parse_expression(with_condexpr));
    }
    return list;
  }

  bool at_tuple_end() const {
    const Token& t = current();
    return t.kind == TokenKind::variable_end || t.kind == TokenKind::block_end ||
           (t.kind == TokenKind::op && (t.value == ")" || t.value == "]")) || (t.kind == TokenKind::name && t.value == "in");
  }

  // An expression, its tree's depth checked once the outermost one is complete: operator, filter and subscript
  // chains ("1 + 1 + ...", "x|f|f...", "a[0][0]...") are parsed in loops, so Depth does not see how deep their
  // trees get, but the renderer recurses over them (a 2,000-term sum overflowed its stack under AddressSanitizer).
  ExprPtr parse_expression(bool with_condexpr) {
    const int line = current().line;
    const bool outermost = expression_nesting_++ == 0;
    auto expr = parse_expression_tree(with_condexpr);
    --expression_nesting_;
    if (outermost && depth_ + expression_depth(*expr) > kMaxNesting) {
      fail(line, "statements or expressions nested deeper than " + std::to_string(kMaxNesting) + " levels");
    }
    return expr;
  }

  ExprPtr parse_expression_tree(bool with_condexpr) {
    Depth depth(*this);
    if (!with_condexpr) return parse_or();
    auto expr = parse_or();
    while (current().kind == TokenKind::name && current().value == "if") {
      const int line = current().line;
      advance();
      auto conditional = make_expr(ExprKind::conditional, line);
      auto condition = parse_or();
      conditional->children.push_back(std::move(condition));
      conditional->children.push_back(std::move(expr));
      conditional->children.push_back(accept_name("else") ? parse_expression(true) : nullptr);
      expr = std::move(conditional);
    }
    return expr;
  }

  ExprPtr parse_or() {
    auto left = parse_and();
    while (current().kind == TokenKind::name && current().value == "or") {
      const int line = current().line;
      advance();
      left = binary("or", std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    auto left = parse_not();
    while (current().kind == TokenKind::name && current().value == "and") {
      const int line = current().line;
      advance();
      left = binary("and", std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (current().kind == TokenKind::name && current().value == "not") {
      Depth depth(*this);
      auto expr = make_expr(ExprKind::unary, current().line);
      advance();
      expr->name = "not";
      expr->children.push_back(parse_not());
      return expr;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = current().line;
    auto first = parse_math1();
    ExprPtr compare;
    while (true) {
      std::string op;
      const Token& t = current();
      if (t.kind == TokenKind::op && (t.value == "==" || t.value == "!=" || t.value == "<" || t.value == "<=" ||
                                      t.value == ">" || t.value == ">=")) {
        op = t.value;
        advance();
      } else if (t.kind == TokenKind::name && t.value == "in") {
        op = "in";
        advance();
      } else if (t.kind == TokenKind::name && t.value == "not" && peek().kind == TokenKind::name &&
                 peek().value == "in") {
        op = "not in";
        advance();
        advance();
      } else {
        break;
      }
      if (!compare) {
        compare = make_expr(ExprKind::compare, line);
        compare->children.push_back(std::move(first));
      }
      compare->operators.push_back(op);
      compare->children.push_back(parse_math1());
    }
    return compare ? std::move(compare) : std::move(first);
  }

  ExprPtr parse_math1() {
    auto left = parse_concat();
    while (current().kind == TokenKind::op && (current().value == "+" || current().value == "-")) {
      const auto op = current().value;
      const int line = current().line;
      advance();
      left = binary(op, std::move(left), parse_concat(), line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    auto left = parse_math2();
    while (current().kind == TokenKind::op && current().value == "~") {
      const int line = current().line;
      advance();
      left = binary("~", std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    auto left = parse_pow();
    while (current().kind == TokenKind::op && (current().value == "*" || current().value == "/" ||
                                               current().value == "//" || current().value == "%")) {
      const auto op = current().value;
      const int line = current().line;
      advance();
      left = binary(op, std::move(left), parse_pow(), line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    auto left = parse_unary(true);
    while (current().kind == TokenKind::op && current().value == "**") {
      const int line = current().line;
      advance();
      left = binary("**", std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    Depth depth(*this);
    const Token& t = current();
    ExprPtr node;
    if (t.kind == TokenKind::op && (t.value == "-" || t.value == "+")) {
      node = make_expr(ExprKind::unary, t.line);
      node->name = t.value;
      advance();
      node->children.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    if (t.kind == TokenKind::name) {
      if (t.value == "true" || t.value == "True") return literal_advance(Value(true), t.line);
      if (t.value == "false" || t.value == "False") return literal_advance(Value(false), t.line);
      if (t.value == "none" || t.value == "None") return literal_advance(Value(None{}), t.line);
      auto name = make_expr(ExprKind::name, t.line);
      name->name = t.value;
      advance();
      return name;
    }
    if (t.kind == TokenKind::string) {
      const int line = t.line;
      std::string text;
      while (current().kind == TokenKind::string) {  // adjacent literals join, as in Python
        text += current().value;
        advance();
      }
      auto expr = make_expr(ExprKind::literal, line);
      expr->literal = Value(std::move(text));
      return expr;
    }
    if (t.kind == TokenKind::integer) {
      errno = 0;
      const long long value = std::strtoll(t.value.c_str(), nullptr, 10);
      if (errno == ERANGE) fail(t.line, "integer literal " + t.value + " does not fit 64 bits");
      return literal_advance(Value(static_cast<std::int64_t>(value)), t.line);
    }
    if (t.kind == TokenKind::floating) return literal_advance(Value(std::strtod(t.value.c_str(), nullptr)), t.line);
    if (t.kind == TokenKind::op && t.value == "(") {
      advance();
      if (accept_op(")")) return make_expr(ExprKind::tuple, t.line);  // the empty tuple
      auto expr = parse_tuple(true);
      expect_op(")");
      return expr;
    }
    if (t.kind == TokenKind::op && t.value == "[") return parse_list();
    if (t.kind == TokenKind::op && t.value == "{") return parse_dict();
    fail(t.line, "unexpected " + describe(t));
  }

  ExprPtr parse_list() {
    auto list = make_expr(ExprKind::list, current().line);
    advance();
    while (!accept_op("]")) {
      if (!list->children.empty()) {
        expect_op(",");
        if (accept_op("]")) break;
      }
      list->children.push_back(parse_expression(true));
    }
    return list;
  }

  ExprPtr parse_dict() {
    auto dict = make_expr(ExprKind::dict, current().line);
    advance();
    while (!accept_op("}")) {
      if (!dict->children.empty()) {
        expect_op(",");
        if (accept_op("}")) break;
      }
      dict->children.push_back(parse_expression(true));
      expect_op(":");
      dict->children.push_back(parse_expression(true));
    }
    return dict;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (current().kind == TokenKind::op) {
      const auto& op = current().value;
      if (op == "." || op == "[") {
        node = parse_subscript(std::move(node));
      } else if (op == "(") {
        node = parse_call(std::move(node));
      } else {
        break;
      }
    }
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      const Token& t = current();
      if (t.kind == TokenKind::op && t.value == "|") {
        node = parse_filter(std::move(node));
      } else if (t.kind == TokenKind::name && t.value == "is") {
        node = parse_test(std::move(node));
      } else if (t.kind == TokenKind::op && t.value == "(") {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    Depth depth(*this);
    const Token& t = current();
    advance();
    if (t.value == ".") {
      const Token& attribute = current();
      if (attribute.kind == TokenKind::name) {
        auto expr = make_expr(ExprKind::attribute, t.line);
        expr->name = attribute.value;
        expr->children.push_back(std::move(node));
        advance();
        return expr;
      }
      if (attribute.kind == TokenKind::integer) {  // "x.0" is x[0]
        auto expr = make_expr(ExprKind::item, t.line);
        expr->children.push_back(std::move(node));
        expr->children.push_back(literal(Value(static_cast<std::int64_t>(std::strtoll(attribute.value.c_str(), nullptr, 10))), t.line));
        advance();
        return expr;
      }
      fail(attribute.line, "expected an attribute name after '.'");
    }
    // "[": an index or a slice.
    ExprPtr start;
    if (!at_op(":")) start = parse_expression(true);
    if (!at_op(":")) {
      if (at_op(",")) fail(current().line, "unsupported construct: a tuple subscript");
      expect_op("]");
      auto expr = make_expr(ExprKind::item, t.line);
      expr->children.push_back(std::move(node));
      expr->children.push_back(std::move(start));
      return expr;
    }
    auto slice = make_expr(ExprKind::slice, t.line);
    slice->children.push_back(std::move(node));
    slice->children.push_back(std::move(start));
    advance();  // ':'
    slice->children.push_back(at_op("]") || at_op(":") ? nullptr : parse_expression(true));
    ExprPtr step;
    if (accept_op(":") && !at_op("]")) step = parse_expression(true);
    slice->children.push_back(std::move(step));
    expect_op("]");
    return slice;
  }

  // Arguments "(a, b, key=c)" into expr's children (after those already there) and keywords.
  void parse_arguments(Expr& expr) {
    expect_op("(");
    bool first = true;
    while (!accept_op(")")) {
      if (!first) {
        expect_op(",");
        if (accept_op(")")) break;
      }
      first = false;
      if (at_op("*") || at_op("**")) fail(current().line, "unsupported construct: *args or **kwargs in a call");
      if (current().kind == TokenKind::name && peek().kind == TokenKind::op && peek().value == "=") {
        const auto key = current().value;
        advance();
        advance();
        expr.keywords.emplace_back(key, parse_expression(true));
      } else {
        if (!expr.keywords.empty()) fail(current().line, "positional argument follows keyword argument");
        expr.children.push_back(parse_expression(true));
      }
    }
  }

  ExprPtr parse_call(ExprPtr node) {
    Depth depth(*this);
    auto call = make_expr(ExprKind::call, current().line);
    call->children.push_back(std::move(node));
    parse_arguments(*call);
    return call;
  }

  ExprPtr parse_filter(ExprPtr node) {
    Depth depth(*this);
    auto filter = make_expr(ExprKind::filter, current().line);
    advance();  // '|'
    if (current().kind != TokenKind::name) fail(current().line, "expected a filter name after '|'");
    filter->name = current().value;
    advance();
    filter->children.push_back(std::move(node));
    if (at_op("(")) parse_arguments(*filter);
    return filter;
  }

  ExprPtr parse_test(ExprPtr node) {
    Depth depth(*this);
    auto test = make_expr(ExprKind::test, current().line);
    advance();  // 'is'
    test->negated = accept_name("not");
    if (current().kind != TokenKind::name) fail(current().line, "expected a test name after 'is'");
    test->name = current().value;
    advance();
    test->children.push_back(std::move(node));
    const Token& t = current();
    if (at_op("(")) {
      parse_arguments(*test);
    } else if ((t.kind == TokenKind::name || t.kind == TokenKind::string || t.kind == TokenKind::integer ||
                t.kind == TokenKind::floating || at_op("[") || at_op("{")) &&
               !(t.kind == TokenKind::name && (t.value == "else" || t.value == "or" || t.value == "and"))) {
      // One argument without parentheses: "x is sameas false", "n is divisibleby 3".
      test->children.push_back(parse_postfix(parse_primary()));
    }
    return test;
  }

  // ---- helpers ----

  // Counts nesting on the way down so that hostile input cannot exhaust the stack.
  struct Depth {
    explicit Depth(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > kMaxNesting) {
        parser_.fail(parser_.current().line, "statements or expressions nested deeper than " + std::to_string(kMaxNesting) +
                                                 " levels");
      }
    }
    ~Depth() { --parser_.depth_; }
    Parser& parser_;
  };

  const Token& current() const { return tokens_[index_]; }
  const Token& peek() const { return tokens_[std::min(index_ + 1, tokens_.size() - 1)]; }
  void advance() {
    if (index_ + 1 < tokens_.size()) ++index_;
  }
  bool at_op(const char* op) const { return current().kind == TokenKind::op && current().value == op; }
  bool accept_op(const char* op) {
    if (!at_op(op)) return false;
    advance();
    return true;
  }
  bool accept_name(const char* name) {
    if (current().kind != TokenKind::name || current().value != name) return false;
    advance();
    return true;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(current().line, std::string("expected '") + op + "', got " + describe(current()));
  }
  void expect_name(const char* name) {
    if (!accept_name(name)) fail(current().line, std::string("expected '") + name + "', got " + describe(current()));
  }
  void expect(TokenKind kind, const char* what) {
    if (current().kind != kind) fail(current().line, std::string("expected ") + what + ", got " + describe(current()));
    advance();
  }
  void end_tag() { expect(TokenKind::block_end, "end of statement '%}'"); }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::end: return "end of template";
      case TokenKind::text: return "template data";
      case TokenKind::variable_begin: return "'{{'";
      case TokenKind::variable_end: return "'}}'";
      case TokenKind::block_begin: return "'{%'";
      case TokenKind::block_end: return "'%}'";
      case TokenKind::string: return "string literal";
      default: return "'" + t.value + "'";
    }
  }

  [[noreturn]] void fail(int line, const std::string& what) const { throw TemplateError(name_, line, what); }

  static StmtPtr make_stmt(StmtKind kind, int line) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = kind;
    stmt->line = line;
    return stmt;
  }
  static ExprPtr make_expr(ExprKind kind, int line) {
    auto expr = std::make_unique<Expr>();
    expr->kind = kind;
    expr->line = line;
    return expr;
  }
  static ExprPtr literal(Value value, int line) {
    auto expr = make_expr(ExprKind::literal, line);
    expr->literal = std::move(value);
    return expr;
  }
  ExprPtr literal_advance(Value value, int line) {
    advance();
    return literal(std::move(value), line);
  }
  static ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
    auto expr = make_expr(ExprKind::binary, line);
    expr->name = op;
    expr->children.push_back(std::move(left));
    expr->children.push_back(std::move(right));
    return expr;
  }

  // The levels of an expression tree, counted without recursion.
  static int expression_depth(const Expr& root) {
    int deepest = 0;
    std::vector<std::pair<const Expr*, int>> pending{{&root, 1}};
    while (!pending.empty()) {
      const auto [expr, level] = pending.back();
      pending.pop_back();
      deepest = std::max(deepest, level);
      for (const auto& child : expr->children) {
        if (child) pending.emplace_back(child.get(), level + 1);
      }
      for (const auto& keyword : expr->keywords) {
        if (keyword.second) pending.emplace_back(keyword.second.get(), level + 1);
      }
    }
    return deepest;
  }

  const std::vector<Token>& tokens_;
  const std::string& name_;
  std::size_t index_ = 0;
  int depth_ = 0;
  int expression_nesting_ = 0;  // parse_expression calls under way
};

}  // namespace

Program parse(const std::vector<Token>& tokens, const std::string& template_name) {
  return Parser(tokens, template_name).run();
}

}  // namespace ladle::text::jinja
