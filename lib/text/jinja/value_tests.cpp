#include "lib/text/jinja/value_tests.h"

#include <cmath>

#include "lib/text/jinja/arguments.h"
#include "lib/text/jinja/python_str.h"
#include "lib/text/jinja/unicode.h"
#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::jinja {
namespace {

bool has_cased_letters(const std::string& s, bool upper) {
  bool cased = false;
  for (const char32_t c : utf8_to_code_points(s)) {
    if (to_upper(c) != c) {
      if (upper) return false;
      cased = true;
    } else if (to_lower(c) != c) {
      if (!upper) return false;
      cased = true;
    }
  }
  return cased;
}

}  // namespace

bool apply_test(const std::string& name, const Value& value, const CallArguments& arguments) {
  const std::string function = "test '" + name + "'";
  const auto no_arguments = [&] { BoundArguments(arguments, function, {}); };
  const auto other = [&](const char* parameter) { return BoundArguments(arguments, function, {parameter}, 1)[0]; };
  using Kind = Value::Kind;
  if (name == "defined") return no_arguments(), !value.is_undefined();
  if (name == "undefined") return no_arguments(), value.is_undefined();
  if (name == "none") return no_arguments(), value.is_none();
  if (name == "boolean") return no_arguments(), value.is_bool();
  if (name == "true") return no_arguments(), value.is_bool() && value.as_bool();
  if (name == "false") return no_arguments(), value.is_bool() && !value.as_bool();
  if (name == "integer") return no_arguments(), value.is_int();
  if (name == "float") return no_arguments(), value.is_float();
  if (name == "number") return no_arguments(), value.is_number();
  if (name == "string") return no_arguments(), value.is_string();
  if (name == "mapping") return no_arguments(), value.is_dict();
  if (name == "callable") return no_arguments(), value.is_callable();
  // Undefined defines __iter__, __len__ and __getitem__, so Jinja counts it as iterable and as a sequence.
  if (name == "iterable" || name == "sequence") {
    no_arguments();
    const auto kind = value.kind();
    return kind == Kind::string || kind == Kind::list || kind == Kind::dict || kind == Kind::undefined;
  }
  if (name == "lower" || name == "upper") {
    no_arguments();
    return value.is_string() && has_cased_letters(value.as_string(), name == "upper");
  }
  if (name == "even" || name == "odd" || name == "divisibleby") {
    const Value divisor = name == "divisibleby" ? other("num") : Value(2);
    if (!value.is_number() || !divisor.is_number()) throw Error(function + ": expected numbers");
    if (value.is_float() || divisor.is_float()) {
      const double remainder = std::fmod(value.as_double(), divisor.as_double());
      return name == "odd" ? remainder != 0 : remainder == 0;
    }
    if (divisor.as_int() == 0) throw Error(function + ": division by zero");
    const bool divisible = value.as_int() % divisor.as_int() == 0;
    return name == "odd" ? !divisible : divisible;
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(value, other("other"));
  if (name == "ne" || name == "!=") return !equals(value, other("other"));
  if (name == "lt" || name == "lessthan" || name == "<") return compare(value, other("other")) < 0;
  if (name == "le" || name == "<=") return compare(value, other("other")) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare(value, other("other")) > 0;
  if (name == "ge" || name == ">=") return compare(value, other("other")) >= 0;
  if (name == "in") return contains(other("seq"), value);
  if (name == "sameas") {
    // Python's `is`: identity; for the immutable scalars a template sees, None, True and False are singletons.
    const Value& b = other("other");
    if (value.is_none() || b.is_none()) return value.is_none() && b.is_none();
    if (value.is_bool() || b.is_bool()) return value.is_bool() && b.is_bool() && value.as_bool() == b.as_bool();
    return value.kind() == b.kind() && equals(value, b) && !value.is_string();
  }
  throw Error("no test named '" + name + "'");
}

}  // namespace ladle::text::jinja
