// The syntax tree of a template: expressions and statements as the parser builds them and the renderer walks
// them. Every node keeps its source line for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

enum class ExprKind {
  literal,      // literal
  name,         // name
  list,         // [children...]
  tuple,        // (children...): a list that prints as a tuple
  dict,         // {keywords[i].second...}: keys in children[2i], values in children[2i + 1]
  attribute,    // children[0].name
  item,         // children[0][children[1]]
  slice,        // children[0][children[1]:children[2]:children[3]] (null child: omitted)
  call,         // children[0](children[1..], keywords)
  filter,       // children[0] | name(children[1..], keywords)
  test,         // children[0] is [not] name(children[1..], keywords)
  unary,        // name: "not", "-", "+"; children[0]
  binary,       // name: the operator ("or", "and", "+", "-", "*", "/", "//", "%", "**", "~"); children[0], [1]
  conditional,  // children[1] if children[0] else children[2] (null: undefined)
  compare,      // children[0] operators[0] children[1] operators[1] children[2] ... (Python's chained comparison)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::literal;
  int line = 1;
  std::string name;                                     // variable, attribute, filter, test or operator name
  Value literal;                                        // the value of a literal
  std::vector<ExprPtr> children;                        // operands, see ExprKind
  std::vector<std::pair<std::string, ExprPtr>> keywords;  // keyword arguments of a call, filter or test
  std::vector<std::string> operators;                   // compare: "==", "!=", "<", "<=", ">", ">=", "in", "not in"
  bool negated = false;                                 // "is not"
};

enum class StmtKind {
  text,        // text: output as is
  print,       // {{ expr }}
  if_,         // {% if %}{% elif %}{% else %}: branches, else_body
  for_,        // {% for targets in expr [if condition] %}body{% else %}else_body{% endfor %}
  set,         // {% set targets = expr %} or {% set target.attribute = expr %} or {% set x %}body{% endset %}
  macro,       // {% macro name(parameters) %}body{% endmacro %}
  break_,      // {% break %} (the loopcontrols extension)
  continue_,   // {% continue %}
  generation,  // {% generation %}body{% endgeneration %}: Hugging Face's marker of assistant text, rendered as is
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Branch {
  ExprPtr condition;
  Body body;
};

struct Parameter {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Stmt {
  StmtKind kind = StmtKind::text;
  int line = 1;
  std::string text;                  // text: the data; set: the attribute of "set ns.attribute"; macro: its name
  ExprPtr expr;                      // print, for (iterable), set (value; null for a block set)
  ExprPtr condition;                 // for: the "if" filter (null: none)
  std::vector<std::string> targets;  // for/set: the names bound ("a, b" unpacks)
  std::vector<Branch> branches;      // if/elif
  Body body;                         // for, set block, macro, generation
  Body else_body;                    // if's else, for's else
  std::vector<Parameter> parameters;  // macro
};

// A parsed template: its statements and the name its errors carry.
struct Program {
  std::string name;
  Body body;
};

}  // namespace ladle::text::jinja
