#include "lib/text/jinja/renderer.h"

#include <cmath>
#include <ctime>
#include <memory>
#include <unordered_map>

#include "lib/text/jinja/access.h"
#include "lib/text/jinja/arguments.h"
#include "lib/text/jinja/filters.h"
#include "lib/text/jinja/python_str.h"
#include "lib/text/jinja/slice_indices.h"
#include "lib/text/jinja/template_error.h"
#include "lib/text/jinja/value_tests.h"

namespace ladle::text::jinja {
namespace {

// The bytes copying a list's items costs: a Value each, and a string's text (strings are held by value, lists
// and dicts shared), which is what repeating or concatenating the list allocates.
std::size_t copied_bytes(const List& list) {
  std::size_t bytes = 0;
  for (const auto& item : list) bytes += sizeof(Value) + (item.is_string() ? item.as_string().size() : 0);
  return bytes;
}

// Variables visible at a point of the template: a frame and the frames around it.
struct Scope {
  std::unordered_map<std::string, Value> variables;
  std::shared_ptr<Scope> parent;
};
using ScopePtr = std::shared_ptr<Scope>;

// What a statement asks of the loop around it.
enum class Flow { normal, break_loop, continue_loop };

void check_overflow(bool overflowed, const char* op) {
  if (overflowed) throw Error(std::string("integer overflow in '") + op + "'");
}

[[noreturn]] void unsupported_operands(const std::string& op, const Value& a, const Value& b) {
  require_defined(a);
  require_defined(b);
  throw Error("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

// Python's floor division and modulo (the result takes the divisor's sign).
std::int64_t floor_divide(std::int64_t a, std::int64_t b) {
  if (a == INT64_MIN && b == -1) throw Error("integer overflow in '//'");
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t floor_modulo(std::int64_t a, std::int64_t b) {
  if (b == -1) return 0;
  std::int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

class Renderer {
 public:
  Renderer(const Program& program, const RenderLimits& limits) : program_(program), limits_(limits) {}
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;
  // A namespace can hold itself, or another that holds it ({% set ns.me = ns %}): emptying every namespace the
  // render made breaks those shared_ptr cycles (they leaked), and destroys a chain of namespaces one at a time
  // rather than recursively.
  ~Renderer() {
    for (const auto& ns : namespaces_) ns->attributes = Dict();
  }

  std::string run(const Dict& variables) {
    auto globals = std::make_shared<Scope>();
    add_globals(*globals);
    for (const auto& [name, value] : variables.items()) globals->variables[name] = value;
    auto scope = std::make_shared<Scope>();
    scope->parent = globals;
    std::string out;
    execute(program_.body, scope, out);
    return out;
  }

 private:
  // ---- statements ----

  Flow execute(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& stmt : body) {
      const Flow flow = execute_one(*stmt, scope, out);
      if (flow != Flow::normal) return flow;
    }
    return Flow::normal;
  }

  Flow execute_one(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
    try {
      step(stmt.line);
      switch (stmt.kind) {
        case StmtKind::text: append(out, stmt.text); return Flow::normal;
        case StmtKind::print: append(out, to_str(eval(*stmt.expr, scope))); return Flow::normal;
        case StmtKind::if_: return execute_if(stmt, scope, out);
        case StmtKind::for_: execute_for(stmt, scope, out); return Flow::normal;
        case StmtKind::set: execute_set(stmt, scope); return Flow::normal;
        case StmtKind::macro: define_macro(stmt, scope); return Flow::normal;
        case StmtKind::break_: return Flow::break_loop;
        case StmtKind::continue_: return Flow::continue_loop;
        case StmtKind::generation: return execute(stmt.body, scope, out);
      }
      return Flow::normal;
    } catch (const TemplateError&) {
      throw;
    } catch (const Error& error) {
      throw TemplateError(program_.name, stmt.line, error.what());
    }
  }

  Flow execute_if(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
    for (const auto& branch : stmt.branches) {
      if (truthy(eval(*branch.condition, scope))) return execute(branch.body, scope, out);
    }
    return execute(stmt.else_body, scope, out);
  }

  void bind_targets(const std::vector<std::string>& targets, const Value& value, Scope& scope) {
    if (targets.size() == 1) {
      scope.variables[targets[0]] = value;
      return;
    }
    const auto items = iterate(value);
    if (items.size() != targets.size()) {
      throw Error(std::string(items.size() > targets.size() ? "too many" : "not enough") +
                  " values to unpack (expected " + std::to_string(targets.size()) + ", got " +
                  std::to_string(items.size()) + ")");
    }
    for (std::size_t i = 0; i < targets.size(); ++i) scope.variables[targets[i]] = items[i];
  }

  ScopePtr child(const ScopePtr& parent) {
    auto scope = std::make_shared<Scope>();
    scope->parent = parent;
    return scope;
  }

  void execute_for(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
    const Value iterable = eval(*stmt.expr, scope);
    if (iterable.is_none()) throw Error("'NoneType' object is not iterable");
    List items;
    for (auto& item : iterate(iterable)) {
      if (stmt.condition) {
        auto probe = child(scope);
        bind_targets(stmt.targets, item, *probe);
        if (!truthy(eval(*stmt.condition, probe))) continue;
      }
      items.push_back(std::move(item));
    }
    if (items.empty()) {
      execute(stmt.else_body, scope, out);
      return;
    }
    const auto n = static_cast<std::int64_t>(items.size());
    for (std::int64_t i = 0; i < n; ++i) {
      auto iteration = child(scope);
      bind_targets(stmt.targets, items[i], *iteration);
      iteration->variables["loop"] = loop_value(items, i);
      if (execute(stmt.body, iteration, out) == Flow::break_loop) break;
    }
  }

  // The loop variable of iteration i (jinja2.runtime.LoopContext). depth counts the levels of a recursive loop
  // only, which this engine does not run, so it is always 1.
  static Value loop_value(const List& items, std::int64_t i) {
    const auto n = static_cast<std::int64_t>(items.size());
    Dict loop;
    loop.set("index0", Value(i));
    loop.set("index", Value(i + 1));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("revindex", Value(n - i));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth0", Value(0));
    loop.set("depth", Value(1));
    loop.set("previtem", i > 0 ? items[i - 1] : Value(Undefined{"there is no previous item"}));
    loop.set("nextitem", i + 1 < n ? items[i + 1] : Value(Undefined{"there is no next item"}));
    loop.set("cycle", Value(Callable{"loop.cycle", [i](const CallArguments& call) {
                                       if (call.positional.empty()) throw Error("no items for cycling given");
                                       return call.positional[i % call.positional.size()];
                                     }}));
    return Value(std::move(loop));
  }

  void execute_set(const Stmt& stmt, const ScopePtr& scope) {
    Value value;
    if (stmt.expr) {
      value = eval(*stmt.expr, scope);
    } else {
      std::string block;
      execute(stmt.body, scope, block);
      value = Value(std::move(block));
    }
    if (stmt.text.empty()) {
      bind_targets(stmt.targets, value, *scope);
      return;
    }
    const Value target = lookup(stmt.targets[0], scope);
    if (!target.is_namespace()) throw Error("cannot assign attribute on non-namespace object");
    target.as_namespace().attributes.set(stmt.text, std::move(value));
  }

  void define_macro(const Stmt& stmt, const ScopePtr& scope) {
    std::weak_ptr<Scope> defining = scope;
    const Stmt* macro = &stmt;
    scope->variables[stmt.text] = Value(Callable{"macro '" + stmt.text + "'", [this, macro, defining](const CallArguments& call) {
                                                   return call_macro(*macro, defining.lock(), call);
                                                 }});
  }

  Value call_macro(const Stmt& macro, const ScopePtr& defining, const CallArguments& call) {
    if (!defining) throw Error("macro '" + macro.text + "' called after the scope it was defined in ended");
    if (call.positional.size() > macro.parameters.size()) {
      throw Error("macro '" + macro.text + "' takes not more than " + std::to_string(macro.parameters.size()) +
                  " argument(s)");
    }
    if (++call_depth_ > limits_.max_call_depth) {
      --call_depth_;
      throw Error("macro calls nested deeper than " + std::to_string(limits_.max_call_depth));
    }
    struct DepthGuard {
      int& depth;
      ~DepthGuard() { --depth; }
    } guard{call_depth_};
    auto scope = child(defining);
    std::vector<bool> given(macro.parameters.size(), false);
    for (std::size_t i = 0; i < call.positional.size(); ++i) {
      scope->variables[macro.parameters[i].name] = call.positional[i];
      given[i] = true;
    }
    for (const auto& [key, value] : call.keyword) {
      std::size_t i = 0;
      while (i < macro.parameters.size() && macro.parameters[i].name != key) ++i;
      if (i == macro.parameters.size()) {
        throw Error("macro '" + macro.text + "' takes no keyword argument '" + key + "'");
      }
      scope->variables[key] = value;
      given[i] = true;
    }
    // Missing arguments take their default, evaluated now, or are undefined (Jinja does not reject them).
    for (std::size_t i = 0; i < macro.parameters.size(); ++i) {
      if (given[i]) continue;
      const auto& parameter = macro.parameters[i];
      scope->variables[parameter.name] = parameter.default_value
                                             ? eval(*parameter.default_value, scope)
                                             : Value(Undefined{"'" + parameter.name + "' is undefined"});
    }
    std::string out;
    execute(macro.body, scope, out);
    return Value(std::move(out));
  }

  // ---- expressions ----

  Value eval(const Expr& expr, const ScopePtr& scope) {
    try {
      step(expr.line);
      return eval_kind(expr, scope);
    } catch (const TemplateError&) {
      throw;
    } catch (const Error& error) {
      throw TemplateError(program_.name, expr.line, error.what());
    }
  }

  Value eval_kind(const Expr& expr, const ScopePtr& scope) {
    switch (expr.kind) {
      case ExprKind::literal: return expr.literal;
      case ExprKind::name: return lookup(expr.name, scope);
      case ExprKind::list:
      case ExprKind::tuple: {
        List list;
        for (const auto& child : expr.children) list.push_back(eval(*child, scope));
        return expr.kind == ExprKind::tuple ? Value::tuple(std::move(list)) : Value(std::move(list));
      }
      case ExprKind::dict: {
        Dict dict;
        for (std::size_t i = 0; i + 1 < expr.children.size(); i += 2) {
          const Value key = eval(*expr.children[i], scope);
          if (!key.is_string()) throw Error("dict keys must be strings here, got " + type_name(key));
          dict.set(key.as_string(), eval(*expr.children[i + 1], scope));
        }
        return Value(std::move(dict));
      }
      case ExprKind::attribute: return get_attribute(eval(*expr.children[0], scope), expr.name);
      case ExprKind::item: return get_item(eval(*expr.children[0], scope), eval(*expr.children[1], scope));
      case ExprKind::slice: return eval_slice(expr, scope);
      case ExprKind::call: {
        const Value callee = eval(*expr.children[0], scope);
        const auto arguments = eval_arguments(expr, scope);
        require_defined(callee);
        if (!callee.is_callable()) throw Error("'" + type_name(callee) + "' object is not callable");
        return limit_size(callee.as_callable().call(arguments));
      }
      case ExprKind::filter: {
        const Value input = eval(*expr.children[0], scope);
        return limit_size(apply_filter(expr.name, input, eval_arguments(expr, scope)));
      }
      case ExprKind::test: {
        const Value input = eval(*expr.children[0], scope);
        return Value(apply_test(expr.name, input, eval_arguments(expr, scope)) != expr.negated);
      }
      case ExprKind::unary: return eval_unary(expr.name, eval(*expr.children[0], scope));
      case ExprKind::binary: return eval_binary(expr, scope);
      case ExprKind::compare: return eval_compare(expr, scope);
      case ExprKind::conditional: {
        if (truthy(eval(*expr.children[0], scope))) return eval(*expr.children[1], scope);
        if (expr.children[2]) return eval(*expr.children[2], scope);
        return Value(Undefined{"the inline if expression evaluated to false and no else section was defined."});
      }
    }
    return Value();
  }

  // The arguments after children[0] (the callee or the filtered value) and the keywords.
  CallArguments eval_arguments(const Expr& expr, const ScopePtr& scope) {
    CallArguments arguments;
    for (std::size_t i = 1; i < expr.children.size(); ++i) arguments.positional.push_back(eval(*expr.children[i], scope));
    for (const auto& [key, value] : expr.keywords) arguments.keyword.emplace_back(key, eval(*value, scope));
    return arguments;
  }

  Value eval_slice(const Expr& expr, const ScopePtr& scope) {
    const Value object = eval(*expr.children[0], scope);
    std::optional<long long> bounds[3];
    for (int i = 0; i < 3; ++i) {
      if (!expr.children[i + 1]) continue;
      const Value bound = eval(*expr.children[i + 1], scope);
      if (bound.is_none()) continue;
      if (!bound.is_int() && !bound.is_bool()) throw Error("slice indices must be integers or None");
      bounds[i] = bound.as_int();
    }
    const long long step = bounds[2].value_or(1);
    require_defined(object);
    if (object.is_string()) return Value(python_slice(object.as_string(), bounds[0], bounds[1], step));
    if (object.is_list()) {
      List out;
      const auto& list = object.as_list();
      for (const auto i : slice_indices(static_cast<long long>(list.size()), bounds[0], bounds[1], step)) {
        out.push_back(list[i]);
      }
      return Value(std::move(out));
    }
    return Value(Undefined{"'" + type_name(object) + "' object is not subscriptable"});
  }

  static Value eval_unary(const std::string& op, const Value& value) {
    if (op == "not") return Value(!truthy(value));
    require_defined(value);
    if (!value.is_number()) throw Error("bad operand type for unary " + op + ": '" + type_name(value) + "'");
    if (op == "+") return value.is_float() ? value : Value(value.as_int());
    if (value.is_float()) return Value(-value.as_double());
    check_overflow(value.as_int() == INT64_MIN, "-");
    return Value(-value.as_int());
  }

  Value eval_binary(const Expr& expr, const ScopePtr& scope) {
    const std::string& op = expr.name;
    const Value left = eval(*expr.children[0], scope);
    if (op == "and") return truthy(left) ? eval(*expr.children[1], scope) : left;
    if (op == "or") return truthy(left) ? left : eval(*expr.children[1], scope);
    const Value right = eval(*expr.children[1], scope);
    if (op == "~") return Value(limit_size(to_str(left) + to_str(right)));
    if (op == "+") return add(left, right);
    if (op == "*") return multiply(left, right);
    return arithmetic(op, left, right);
  }

  Value add(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
      if (a.is_float() || b.is_float()) return Value(a.as_double() + b.as_double());
      std::int64_t r = 0;
      check_overflow(__builtin_add_overflow(a.as_int(), b.as_int(), &r), "+");
      return Value(r);
    }
    if (a.is_string() && b.is_string()) return Value(limit_size(a.as_string() + b.as_string()));
    if (a.is_list() && b.is_list()) {
      if (copied_bytes(a.as_list()) + copied_bytes(b.as_list()) > limits_.max_output_bytes) {
        throw Error("list concatenation larger than " + std::to_string(limits_.max_output_bytes) + " bytes");
      }
      List joined = a.as_list();
      joined.insert(joined.end(), b.as_list().begin(), b.as_list().end());
      return Value(std::move(joined));
    }
    unsupported_operands("+", a, b);
  }

  Value multiply(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
      if (a.is_float() || b.is_float()) return Value(a.as_double() * b.as_double());
      std::int64_t r = 0;
      check_overflow(__builtin_mul_overflow(a.as_int(), b.as_int(), &r), "*");
      return Value(r);
    }
    const bool repeat_a = (a.is_string() || a.is_list()) && (b.is_int() || b.is_bool());
    const bool repeat_b = (b.is_string() || b.is_list()) && (a.is_int() || a.is_bool());
    if (!repeat_a && !repeat_b) unsupported_operands("*", a, b);
    const Value& sequence = repeat_a ? a : b;
    const std::int64_t times = std::max<std::int64_t>(0, (repeat_a ? b : a).as_int());
    const std::size_t unit = sequence.is_string() ? sequence.as_string().size() : copied_bytes(sequence.as_list());
    if (unit > 0 && static_cast<std::size_t>(times) > limits_.max_output_bytes / unit) {
      throw Error("sequence repetition larger than " + std::to_string(limits_.max_output_bytes) + " bytes");
    }
    if (sequence.is_string()) {
      // By doubling: 'x' * 100000000 is 27 copies, not 10^8 appends.
      const std::size_t size = unit * static_cast<std::size_t>(times);
      std::string out;
      out.reserve(size);
      if (size > 0) out = sequence.as_string();
      while (out.size() < size) out.append(out, 0, std::min(out.size(), size - out.size()));
      return Value(std::move(out));
    }
    List out;
    for (std::int64_t i = 0; i < times; ++i) out.insert(out.end(), sequence.as_list().begin(), sequence.as_list().end());
    return Value(std::move(out));
  }

  static Value arithmetic(const std::string& op, const Value& a, const Value& b) {
    if (!a.is_number() || !b.is_number()) {
      if (op == "%" && a.is_string()) throw Error("unsupported construct: printf-style string formatting with '%'");
      unsupported_operands(op, a, b);
    }
    const bool floating = a.is_float() || b.is_float();
    if (op == "**") {
      if (!floating && b.as_int() >= 0) {
        std::int64_t result = 1;
        for (std::int64_t i = 0; i < b.as_int(); ++i) {
          if (__builtin_mul_overflow(result, a.as_int(), &result)) throw Error("integer overflow in '**'");
          if (result == 0 || result == 1) break;
        }
        return Value(result);
      }
      return Value(std::pow(a.as_double(), b.as_double()));
    }
    if (op == "-") {
      if (floating) return Value(a.as_double() - b.as_double());
      std::int64_t r = 0;
      check_overflow(__builtin_sub_overflow(a.as_int(), b.as_int(), &r), "-");
      return Value(r);
    }
    if ((floating ? b.as_double() == 0.0 : b.as_int() == 0)) {
      throw Error(op == "%" ? "modulo by zero" : "division by zero");
    }
    if (op == "/") return Value(a.as_double() / b.as_double());
    if (op == "//") {
      if (floating) return Value(std::floor(a.as_double() / b.as_double()));
      return Value(floor_divide(a.as_int(), b.as_int()));
    }
    if (floating) {
      double r = std::fmod(a.as_double(), b.as_double());
      if (r != 0 && ((r < 0) != (b.as_double() < 0))) r += b.as_double();
      return Value(r);
    }
    return Value(floor_modulo(a.as_int(), b.as_int()));
  }

  Value eval_compare(const Expr& expr, const ScopePtr& scope) {
    Value left = eval(*expr.children[0], scope);
    for (std::size_t i = 0; i < expr.operators.size(); ++i) {
      Value right = eval(*expr.children[i + 1], scope);
      const std::string& op = expr.operators[i];
      bool holds;
      if (op == "==") {
        holds = equals(left, right);
      } else if (op == "!=") {
        holds = !equals(left, right);
      } else if (op == "in" || op == "not in") {
        holds = contains(right, left) == (op == "in");
      } else {
        const int order = compare(left, right);
        holds = op == "<" ? order < 0 : op == "<=" ? order <= 0 : op == ">" ? order > 0 : order >= 0;
      }
      if (!holds) return Value(false);
      left = std::move(right);
    }
    return Value(true);
  }

  // ---- names and globals ----

  static const Value* lookup_optional(const std::string& name, const ScopePtr& scope) {
    for (const Scope* s = scope.get(); s != nullptr; s = s->parent.get()) {
      const auto found = s->variables.find(name);
      if (found != s->variables.end()) return &found->second;
    }
    return nullptr;
  }

  static Value lookup(const std::string& name, const ScopePtr& scope) {
    const Value* found = lookup_optional(name, scope);
    return found ? *found : Value(Undefined{"'" + name + "' is undefined"});
  }

  void add_globals(Scope& globals) {
    const auto max_range = limits_.max_range;
    globals.variables["range"] = Value(Callable{"range", [max_range](const CallArguments& call) {
      BoundArguments args(call, "range", {"start", "stop", "step"}, 1);
      for (std::size_t i = 0; i < 3; ++i) {
        if (args.has(i) && !args[i].is_int() && !args[i].is_bool()) throw Error("range() arguments must be integers");
      }
      const std::int64_t start = args.has(1) ? args[0].as_int() : 0;
      const std::int64_t stop = args.has(1) ? args[1].as_int() : args[0].as_int();
      const std::int64_t step = args.get(2, Value(1)).as_int();
      if (step == 0) throw Error("range() arg 3 must not be zero");
      const long double count = std::ceil((static_cast<long double>(stop) - start) / step);
      if (count > max_range) {
        throw Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + std::to_string(max_range) + ").");
      }
      List items;
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(std::max<long double>(0, count)); ++i) items.emplace_back(start + i * step);
      return Value(std::move(items));
    }});
    globals.variables["namespace"] = Value(Callable{"namespace", [this](const CallArguments& call) {
      auto ns = std::make_shared<Namespace>();
      namespaces_.push_back(ns);
      for (const auto& initial : call.positional) {
        if (!initial.is_dict()) throw Error("namespace() takes a dict or keyword arguments");
        for (const auto& [key, value] : initial.as_dict().items()) ns->attributes.set(key, value);
      }
      for (const auto& [key, value] : call.keyword) ns->attributes.set(key, value);
      return Value(ns);
    }});
    globals.variables["dict"] = Value(Callable{"dict", [](const CallArguments& call) {
      if (!call.positional.empty()) throw Error("dict() takes keyword arguments here");
      Dict dict;
      for (const auto& [key, value] : call.keyword) dict.set(key, value);
      return Value(std::move(dict));
    }});
    // Hugging Face's globals (transformers chat_template_utils._compile_jinja_template).
    globals.variables["raise_exception"] = Value(Callable{"raise_exception", [](const CallArguments& call) -> Value {
      BoundArguments args(call, "raise_exception", {"message"}, 1);
      throw Error("raise_exception: " + to_str(args[0]));
    }});
    globals.variables["strftime_now"] = Value(Callable{"strftime_now", [](const CallArguments& call) {
      BoundArguments args(call, "strftime_now", {"format"}, 1);
      if (!args[0].is_string()) throw Error("strftime_now: the format must be a string");
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buffer[512];
      const auto size = std::strftime(buffer, sizeof buffer, args[0].as_string().c_str(), &local);
      return Value(std::string(buffer, size));
    }});
  }

  // ---- limits ----

  void step(int line) {
    if (++steps_ > limits_.max_steps) {
      throw TemplateError(program_.name, line, "rendering took more than " + std::to_string(limits_.max_steps) + " steps");
    }
  }

  void require_string_size(std::size_t bytes) const {
    if (bytes > limits_.max_output_bytes) {
      throw Error("a string longer than " + std::to_string(limits_.max_output_bytes) + " bytes");
    }
  }

  std::string limit_size(std::string s) const {
    require_string_size(s.size());
    return s;
  }

  // What a call or a filter returned, held to the same bound as the strings the operators build.
  Value limit_size(Value value) const {
    if (value.is_string()) require_string_size(value.as_string().size());
    return value;
  }

  void append(std::string& out, const std::string& text) const {
    if (out.size() + text.size() > limits_.max_output_bytes) {
      throw Error("output longer than " + std::to_string(limits_.max_output_bytes) + " bytes");
    }
    out += text;
  }

  const Program& program_;
  const RenderLimits& limits_;
  std::vector<std::shared_ptr<Namespace>> namespaces_;  // every namespace() of this render
  std::size_t steps_ = 0;
  int call_depth_ = 0;
};

}  // namespace

std::string render(const Program& program, const Dict& variables, const RenderLimits& limits) {
  return Renderer(program, limits).run(variables);
}

}  // namespace ladle::text::jinja
