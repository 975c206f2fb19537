// The Jinja interpreter against python3-jinja2 with Hugging Face's settings: every case below is rendered by
// both, and the outputs must be equal byte for byte (or both must fail). The expected outputs come from
// tests/tools/jinja_reference.py at test time, never from this file.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/text/jinja/json_value.h"
#include "lib/text/jinja/python_json.h"
#include "lib/text/jinja/template.h"
#include "lib/text/jinja/template_error.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::text::jinja {
namespace {

struct Case {
  const char* name;
  const char* source;
  const char* variables;  // JSON object
  bool fails = false;     // python3-jinja2 raises (and so must the interpreter)
};

const Case kCases[] = {
    // Data, whitespace control, trim_blocks and lstrip_blocks, comments, the trailing newline.
    {"PlainText", "Hello\nworld\n", "{}"},
    {"PrintVariables", "{{ a }}|{{ b }}|{{ c }}|{{ d }}|{{ e }}|{{ missing }}|", R"({"a": "x", "b": 3, "c": 2.5, "d": true, "e": null})"},
    {"WhitespaceControl", "a  {{- ' b ' -}}  c\n  {%- if true -%}  d  {%- endif -%}\n e", "{}"},
    {"TrimAndLstripBlocks", "<ul>\n  {% for x in xs %}\n    <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n", R"({"xs": [1, 2]})"},
    {"PlusDisablesLstripAndTrim", "a\n  {%+ if true +%}\nb\n  {% endif %}\nc", "{}"},
    {"Comments", "a {# a comment #}\n  {# line comment #}\nb{#- strip -#}   c", "{}"},
    {"VariableTagIsNotLstripped", "x\n    {{ 'y' }}\n", "{}"},
    {"CrlfNewlines", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc\r\n", "{}"},
    // Statements.
    {"IfElifElse", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}", "{}"},
    {"ForLoopVariable",
     "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}"
     "{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.cycle('o', 'e') }};{% endfor %}",
     "{}"},
    {"ForElseAndFilter", "{% for x in xs if x > 1 %}{{ x }}/{{ loop.length }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", R"({"xs": [1, 2, 3]})"},
    {"ForUnpacksItems", "{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", R"({"d": {"b": 1, "a": 2}})"},
    {"ForOverDictAndString", "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'héé' %}[{{ c }}]{% endfor %}", R"({"d": {"x": 1, "y": 2}})"},
    {"NestedLoopsDepth", "{% for a in [1, 2] %}{% for b in [3] %}{{ loop.depth }}{{ a }}{{ b }}{% endfor %}{{ loop.depth }}{% endfor %}", "{}"},
    {"BreakAndContinue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", "{}"},
    {"SetInLoopStaysInIteration", "{% set x = 'outer' %}{% for i in [1, 2] %}{{ x }}{% set x = 'inner' ~ i %}{{ x }} {% endfor %}{{ x }}", "{}"},
    {"SetInIfChangesScope", "{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}", "{}"},
    {"NamespaceOutlivesLoop",
     "{% set ns = namespace(count=0, found=false) %}{% for i in range(4) %}{% set ns.count = ns.count + i %}"
     "{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}",
     "{}"},
    {"SetUnpackAndBlock", "{% set a, b = [1, 'two'] %}{{ b }}{{ a }}{% set block %}x{{ a }}y{% endset %}[{{ block }}]", "{}"},
    {"MacroWithDefaults",
     "{% macro greet(name, greeting='Hello', end='!') %}{{ greeting }}, {{ name }}{{ end }}{% endmacro %}"
     "{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(name='Cy', end='?') }}",
     "{}"},
    {"MacroRecursion", "{% macro down(n) %}{{ n }}{% if n > 0 %}{{ down(n - 1) }}{% endif %}{% endmacro %}{{ down(4) }}", "{}"},
    {"MacroMissingArgumentIsUndefined", "{% macro f(a, b) %}[{{ a }}|{{ b }}|{{ b is defined }}]{% endmacro %}{{ f(1) }}", "{}"},
    {"GenerationTag", "{% for m in messages %}{% generation %}{{ m }}{% endgeneration %}{% endfor %}", R"({"messages": ["a", "b"]})"},
    // Literals and printing.
    {"StringEscapes", R"({{ 'a\nb\tc\\d\'e' }}|{{ "q\"q" }}|{{ '\u00e9\x41\101' }}|{{ 'keep\d' }}|{{ 'ab' 'cd' }})", "{}"},
    {"PrintsPythonRepr", "{{ [1, 'a', none, true, 2.0] }} {{ {'k': 'v', 'n': [1]} }} {{ (1, 2) }} {{ \"it's\" }} {{ ['it\\'s'] }}", "{}"},
    {"FloatRepr", "{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 100.0 }} {{ 3 / 2 }} {{ 10 / 5 }} {{ 1e16 }} {{ 123456789.0 * 10 }} {{ -0.0 }}", "{}"},
    {"Numbers", "{{ 1_000 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -3 }} {{ +4 }}", "{}"},
    // Operators.
    {"Concatenation", "{{ 'a' ~ 1 ~ none ~ missing ~ true }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 'ab' * 3 }} {{ 3 * [0] }}", "{}"},
    {"Comparisons", "{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 1 != 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1, 2] < [1, 3] }}", "{}"},
    {"LogicReturnsOperands", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ none or [] }} {{ not 0 }} {{ not 'a' }} {{ '' and 1 }}", "{}"},
    {"InAndNotIn", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ 3 not in [3] }}", "{}"},
    {"ConditionalExpression", "{{ 'yes' if x else 'no' }} {{ 'only' if not x }}|{{ 'a' if false else 'b' if true else 'c' }}", R"({"x": false})"},
    {"Slicing", "{{ 'hello'[::-1] }} {{ 'hello'[1:3] }} {{ 'hello'[-2:] }} {{ xs[::-1] }} {{ xs[1:] }} {{ xs[:-1] }} {{ xs[::2] }} {{ 'héllo'[1] }} {{ xs[-1] }}", R"({"xs": [1, 2, 3, 4]})"},
    {"AttributeAndItemAccess", "{{ m.role }} {{ m['content'] }} {{ m.missing }}|{{ xs.0 }} {{ xs[1] }} {{ xs[9] }}|{{ m.get('role') }} {{ m.get('x', 'd') }}", R"({"m": {"role": "user", "content": "hi"}, "xs": ["a", "b"]})"},
    {"DictMethods", "{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}", R"({"d": {"a": 1, "b": [2]}})"},
    {"StringMethods",
     "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxaxx'.strip('x') }}][{{ s.split() }}][{{ 'a,b,,c'.split(',') }}]"
     "[{{ 'a b c'.split(' ', 1) }}][{{ s.strip().startswith('he') }}][{{ 'file.txt'.endswith(('.md', '.txt')) }}]"
     "[{{ 'Hello'.upper() }}][{{ 'Hello'.lower() }}][{{ 'hello world'.title() }}][{{ 'hELLO'.capitalize() }}]"
     "[{{ 'aaa'.replace('a', 'b', 2) }}][{{ 'abcabc'.find('c') }}][{{ 'abcabc'.count('bc') }}][{{ '-'.join(['x', 'y']) }}]"
     "[{{ 'l1\\nl2\\r\\nl3'.splitlines() }}][{{ '12'.isdigit() }}][{{ '\\n'.lstrip('\\n') }}]",
     R"({"s": "  hello world \n"})"},
    {"QwenThinkSplit",
     "{% set c = m.split('</think>')[-1].lstrip('\\n') %}{% set r = m.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}[{{ c }}][{{ r }}]",
     R"({"m": "<think>\nreason\n</think>\n\nanswer"})"},
    // Filters.
    {"TrimFilter", "[{{ '  a b \n' | trim }}][{{ 'xxaxx' | trim('x') }}][{{ none | trim }}][{{ missing | trim }}]", "{}"},
    {"TojsonFilter",
     "{{ v | tojson }}\n{{ v | tojson(indent=2) }}\n{{ v | tojson(sort_keys=true) }}\n{{ 'é\"\\n<>&' | tojson }}\n{{ [1.0, 1e20, -2, none, true] | tojson }}"
     "\n{{ v | tojson(indent=2, separators=(',', ':')) }}\n{{ {} | tojson(indent=2) }}{{ [] | tojson }}",
     R"({"v": {"name": "get_weather", "parameters": {"type": "object", "b": [1, 2.5, "x"], "a": {}}}})"},
    {"LengthAndCount", "{{ xs | length }} {{ 'héllo' | length }} {{ d | count }} {{ missing | length }}", R"({"xs": [1, 2, 3], "d": {"a": 1}})"},
    {"CaseFilters", "{{ 'hello WORLD' | upper }} {{ 'HeLLo' | lower }} {{ 'hello big-world (x' | title }} {{ 'hello World' | capitalize }} {{ 'é' | upper }}", "{}"},
    {"DefaultFilter", "{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('n') }} {{ 0 | default(5, boolean=true) }}", "{}"},
    {"JoinFirstLast", "{{ xs | join(', ') }} {{ xs | join }} {{ xs | first }} {{ xs | last }} {{ 'abc' | first }} {{ users | join(',', attribute='name') }}",
     R"({"xs": [1, "b", 3], "users": [{"name": "a"}, {"name": "b"}]})"},
    {"ConversionFilters", "{{ 3.7 | int }} {{ '42' | int }} {{ ' 7 ' | int }} {{ 'x' | int }} {{ 'x' | int(9) }} {{ '2.5' | int }} {{ '2.5' | float }} {{ 3 | float }} {{ 5 | string ~ 'x' }} {{ none | string }}", "{}"},
    {"ReplaceFilter", "{{ 'aaa' | replace('a', 'bb') }} {{ 'aaa' | replace('a', 'b', 1) }}", "{}"},
    {"SelectAndRejectAttr",
     "{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ ms | rejectattr('role', 'eq', 'user') | list | length }}"
     " {{ ms | selectattr('tool_calls') | list | length }} {{ ms | selectattr('tool_calls', 'defined') | list | length }}",
     R"({"ms": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": [1]}, {"role": "user", "content": "c"}]})"},
    {"SelectRejectMap", "{{ xs | select('odd') | list }} {{ xs | reject('odd') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ xs | select | list }}", R"({"xs": [0, 1, 2, 3]})"},
    {"ListReverseSort", "{{ 'abc' | list }} {{ 'abc' | reverse }} {{ xs | reverse | list }} {{ ['b', 'A', 'c'] | sort }} {{ xs | sort(reverse=true) }} {{ us | sort(attribute='age') | map(attribute='n') | join }}",
     R"({"xs": [3, 1, 2], "us": [{"n": "x", "age": 3}, {"n": "y", "age": 1}]})"},
    {"NumberFilters", "{{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ xs | sum }} {{ xs | min }} {{ xs | max }} {{ ['b', 'A'] | max }}", R"({"xs": [3, 1, 2]})"},
    {"IndentFilter", "{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent('> ', blank=true) }}", "{}"},
    {"EscapeAndSafe", "{{ '<a href=\"x\">&\\'</a>' | e }} {{ '<b>' | safe }}", "{}"},
    // Tests.
    {"TypeTests",
     "{% for v in [1, 1.5, 'a', none, true, [1], {'a': 1}] %}{{ v is number }}{{ v is integer }}{{ v is float }}{{ v is string }}"
     "{{ v is none }}{{ v is boolean }}{{ v is sequence }}{{ v is mapping }}{{ v is iterable }}{{ v is true }}{{ v is false }};{% endfor %}",
     "{}"},
    {"DefinedTests", "{{ x is defined }} {{ missing is defined }} {{ missing is undefined }} {{ x is not none }} {{ missing is iterable }} {{ m.tool_calls is defined }}", R"({"x": 1, "m": {}})"},
    {"ValueTests", "{{ 4 is divisibleby(2) }} {{ 4 is divisibleby 3 }} {{ 3 is odd }} {{ 3 is even }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is in [1, 2] }} {{ 1 is eq 1 }} {{ x is sameas false }} {{ 1 is lt 2 }} {{ f is callable }}",
     R"({"x": false, "f": 1})"},
    // Errors both engines raise.
    {"RaiseException", "{% if true %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}", "{}", true},
    {"AttributeOfUndefinedFails", "{{ missing.attribute }}", "{}", true},
    {"SandboxRefusesAppend", "{% set xs = [1] %}{{ xs.append(2) }}", "{}", true},
    {"StringPlusIntFails", "{{ 'a' + 1 }}", "{}", true},
    {"RangeTooBig", "{{ range(200000) | length }}", "{}", true},
    {"IterateNoneFails", "{% for x in none %}{% endfor %}", "{}", true},
};

// Renders every case with python3-jinja2 once for the suite.
const std::vector<nlohmann::json>& reference_results() {
  static const std::vector<nlohmann::json> results = [] {
    nlohmann::ordered_json cases = nlohmann::ordered_json::array();
    for (const auto& c : kCases) cases.push_back({{"template", c.source}, {"variables", nlohmann::ordered_json::parse(c.variables)}});
    const auto dir = testing::make_temp_dir("jinja_reference");
    const auto path = dir + "/cases.json";
    std::ofstream(path) << cases.dump();
    const auto result = testing::run_command(
        testing::python_program(), {std::string(LADLE_SOURCE_DIR) + "/tests/tools/jinja_reference.py", "templates", path});
    if (result.exit_code != 0) throw std::runtime_error("jinja_reference.py failed: " + result.err);
    std::filesystem::remove_all(dir);
    return nlohmann::json::parse(result.out).get<std::vector<nlohmann::json>>();
  }();
  return results;
}

class JinjaMatchesPython : public ::testing::TestWithParam<std::size_t> {};

TEST_P(JinjaMatchesPython, ByteForByte) {
  const Case& c = kCases[GetParam()];
  const auto& expected = reference_results()[GetParam()];
  const Value variables = from_json(nlohmann::ordered_json::parse(c.variables));
  std::string output;
  std::string error;
  try {
    output = Template(c.source, c.name).render(variables.as_dict());
  } catch (const Error& e) {
    error = e.what();
  }
  ASSERT_EQ(expected.contains("error"), c.fails) << expected.dump();
  if (c.fails) {
    EXPECT_FALSE(error.empty()) << "python3-jinja2 failed (" << expected["error"] << ") but ladle rendered: " << output;
  } else {
    EXPECT_EQ(error, "");
    EXPECT_EQ(output, expected["output"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Constructs, JinjaMatchesPython, ::testing::Range<std::size_t>(0, std::size(kCases)),
                         [](const ::testing::TestParamInfo<std::size_t>& info) { return std::string(kCases[info.param].name); });

// ---- what python3-jinja2 cannot judge: our errors and limits ----

TEST(JinjaTemplate, UnsupportedTagNamesItAndItsLine) {
  const auto message = testing::error_message([] { Template("line one\n{% include 'x.j2' %}", "chat_template"); });
  EXPECT_EQ(message, "chat_template:2: unsupported tag 'include'");
}

TEST(JinjaTemplate, UnsupportedFilterNamesItAndItsLine) {
  const Template t("a\nb\n{{ x | wordwrap }}", "t");
  EXPECT_EQ(testing::error_message([&] { t.render({}); }), "t:3: unsupported filter 'wordwrap'");
}

TEST(JinjaTemplate, RaiseExceptionCarriesTheTemplatesMessage) {
  const Template t("\n{{ raise_exception('roles must alternate') }}", "t");
  EXPECT_EQ(testing::error_message([&] { t.render({}); }), "t:2: raise_exception: roles must alternate");
}

TEST(JinjaTemplate, UnclosedTagIsAnError) {
  EXPECT_TRUE(testing::contains(testing::error_message([] { Template("{% if x %}", "t"); }), "expected 'elif'"));
  EXPECT_TRUE(testing::contains(testing::error_message([] { Template("{{ x ", "t"); }), "missing end of variable tag"));
  EXPECT_TRUE(testing::contains(testing::error_message([] { Template("{{ 'abc }}", "t"); }), "unterminated string"));
}

TEST(JinjaTemplate, DeepNestingIsAnErrorNotACrash) {
  const std::string parentheses = "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
  EXPECT_TRUE(testing::contains(testing::error_message([&] { Template(parentheses, "t"); }), "nested deeper"));
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_TRUE(testing::contains(testing::error_message([&] { Template(ifs, "t"); }), "nested deeper"));
}

// Chains parsed in loops build trees as deep as they are long; a 2,000-term sum (8 KB) overflowed the renderer's
// stack under AddressSanitizer.
TEST(JinjaTemplate, LongOperatorFilterAndSubscriptChainsAreAnErrorNotACrash) {
  for (const std::string link : {" + 1", " ~ 'a'", " or x", "|trim", "[0]", ".a", "()", " if 1"}) {
    std::string chain = "{{ x";
    for (int i = 0; i < 5000; ++i) chain += link;
    EXPECT_TRUE(testing::contains(testing::error_message([&] { Template(chain + " }}", "t"); }), "t:1: statements or "
                                  "expressions nested deeper than 200 levels")) << link;
  }
  std::string sum = "{{ 0";  // a chain within the bound renders
  for (int i = 0; i < 150; ++i) sum += " + 1";
  EXPECT_EQ(Template(sum + " }}", "t").render({}), "150");
}

// A namespace holding itself made repr recurse until the stack overflowed, and the shared_ptr cycle leaked.
// Expected outputs: python3-jinja2 3.1.2's (Python's recursive repr prints "[...]", "{...}").
TEST(JinjaTemplate, NamespaceInsideItselfPrintsAsPythonsRecursiveRepr) {
  EXPECT_EQ(Template("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}", "t").render({}),
            "<Namespace {'a': 1, 'me': <Namespace {...}>}>");
  EXPECT_EQ(Template("{% set ns = namespace(a=1) %}{% set ns.me = [ns] %}{{ ns.me }}", "t").render({}),
            "[<Namespace {'a': 1, 'me': [...]}>]");
  EXPECT_EQ(Template("{% set ns = namespace(a=1) %}{% set ns.me = (ns, {'k': ns}) %}{{ ns }}", "t").render({}),
            "<Namespace {'a': 1, 'me': (<Namespace {...}>, {'k': <Namespace {...}>})}>");
}

// A value nested without bound at render time (found on the fuzz build) overflowed the stack when destroyed, printed,
// given to tojson or compared. Python's jinja2 raises RecursionError for the walks; length and identity need none
// (python3-jinja2 3.1.2 prints 1 and True for the first and fourth templates).
TEST(JinjaTemplate, ValuesNestedWithoutBoundAreAnErrorNotACrash) {
  // Two equal lists, each 100,000 levels deep.
  const std::string deep_list =
      "{% set ns = namespace(x=[], y=[]) %}"
      "{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% set ns.y = [ns.y] %}{% endfor %}";
  EXPECT_EQ(Template(deep_list + "{{ ns.x | length }}", "t").render({}), "1");
  for (const char* walk : {"{{ ns.x }}", "{{ ns.x | tojson }}", "{{ ns.x == ns.y }}", "{{ ns.x < ns.y }}"}) {
    const std::string message = testing::error_message([&] { Template(deep_list + walk, "t").render({}); });
    EXPECT_TRUE(testing::contains(message, "nested deeper than 512 levels")) << walk << ": " << message;
  }
  EXPECT_EQ(Template(deep_list + "{{ ns.x == ns.x }}", "t").render({}), "True");
  const std::string deep_namespaces =
      "{% set ns = namespace(head=none) %}"
      "{% for i in range(100000) %}{% set ns.head = namespace(next=ns.head) %}{% endfor %}";
  EXPECT_EQ(Template(deep_namespaces + "done", "t").render({}), "done");
  EXPECT_TRUE(testing::contains(
      testing::error_message([&] { Template(deep_namespaces + "{{ ns.head }}", "t").render({}); }), "nested deeper"));
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (int i = 0; i < 100000; ++i) messages = nlohmann::ordered_json::array({std::move(messages)});
  EXPECT_TRUE(testing::contains(testing::error_message([&] { from_json(messages); }), "nested deeper than 512 levels"));
}

TEST(JinjaTemplate, UnboundedRecursionIsAnError) {
  const Template t("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "t");
  EXPECT_TRUE(testing::contains(testing::error_message([&] { t.render({}); }), "macro calls nested deeper than 100"));
}

TEST(JinjaTemplate, RunawayLoopsStopAtTheStepLimit) {
  TemplateOptions options;
  options.limits.max_steps = 100000;
  const Template t("{% for a in range(1000) %}{% for b in range(1000) %}{{ a }}{% endfor %}{% endfor %}", "t", options);
  EXPECT_TRUE(testing::contains(testing::error_message([&] { t.render({}); }), "more than 100000 steps"));
}

TEST(JinjaTemplate, OutputSizeIsBounded) {
  TemplateOptions options;
  options.limits.max_output_bytes = 1000;
  const Template t("{{ 'x' * 100000 }}", "t", options);
  EXPECT_TRUE(testing::contains(testing::error_message([&] { t.render({}); }), "larger than 1000 bytes"));
}

// Builders that multiply their input asked for terabytes: `tojson(indent=4222222222222222)` (found by the
// chat_template fuzzer) aborted on an allocation of that many spaces. Each now computes the size first, and lists
// made from a string (40 bytes or more a character) are bounded too (string_size_limit.h).
TEST(JinjaTemplate, StringsThatWouldOutgrowTheBoundAreAnErrorNotAnAllocation) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{{ [1, [2]] | tojson(indent=4222222222222222) }}", "tojson indent: the result would be 4222222222222222 bytes"},
      {"{{ 'a\nb' | indent(1000000000000000) }}", "indent: the result would be 1000000000000000 bytes"},
      {"{{ ('ab\n' * 100000) | indent('x' * 100000) }}", "indent: the result would be"},
      {"{{ ('x' * 100000).replace('x', 'y' * 100000) }}", "replace: the result would be 10000000000 bytes"},
      {"{{ ('x' * 100000) | replace('', 'y' * 100000) }}", "replace: the result would be 10000200000 bytes"},
      {"{{ range(100000) | join('x' * 100000) }}", "join: the result would be"},
      {"{{ ('x' * 100000).join(['a'] * 100000) }}", "join: the result would be"},
      {"{{ ('<' * 10000000) | e }}", "escape: the result would be 40000000 bytes"},
      {"{{ ('ab' * 1000000) | list | length }}", "a string's characters: the result would be a list of 2000000 items"},
      {"{% for c in 'ab' * 1000000 %}{% endfor %}", "a list of 2000000 items"},
      {"{{ ('a,' * 1000000).split(',') | length }}", "str.split: the result would be a list of"},
      {"{{ ('a ' * 1000000).split() | length }}", "str.split: the result would be a list of"},
      {"{{ ('a\\n' * 1000000).splitlines() | length }}", "splitlines: the result would be a list of"},
      {"{{ 'x' * 40000000 }}", "sequence repetition larger than 33554432 bytes"},
  };
  for (const auto& [source, expected] : cases) {
    EXPECT_TRUE(testing::contains(testing::error_message([&] { Template(source, "t").render({}); }), expected))
        << source;
  }
  // Within the bound the same builders give what Python gives (python3-jinja2 3.1.2).
  EXPECT_EQ(Template("{{ 'a-b'.replace('-', '--') }}|{{ 'ab' | replace('', '.') }}|{{ [1, 2] | join('; ') }}", "t")
                .render({}),
            "a--b|.a.b.|1; 2");
  EXPECT_EQ(Template("{{ {'a': [1]} | tojson(indent=2) }}|{{ 'x\ny' | indent(3) }}|{{ '<&>' | e }}", "t").render({}),
            "{\n  \"a\": [\n    1\n  ]\n}|x\n   y|&lt;&amp;&gt;");
}

// tojson checks its output as it grows: a long separator or indent is written once per item.
TEST(JinjaTemplate, TojsonStopsAtItsOutputBound) {
  JsonDumpOptions options;
  options.max_bytes = 100;
  const Value numbers(List{Value(std::int64_t{0}), Value(std::int64_t{1}), Value(std::int64_t{2})});
  options.separators = std::make_pair(std::string(50, ','), std::string(":"));
  EXPECT_TRUE(testing::contains(testing::error_message([&] { json_dumps(numbers, options); }),
                                "tojson: the result would be 103 bytes, more than the 100"));
  options.separators.reset();
  options.indent = std::string(60, ' ');
  EXPECT_TRUE(testing::contains(testing::error_message([&] { json_dumps(numbers, options); }), "more than the 100"));
  options.indent = "  ";  // within the bound: json.dumps([0, 1, 2], indent=2)
  EXPECT_EQ(json_dumps(numbers, options), "[\n  0,\n  1,\n  2\n]");
  options.indent.reset();
  EXPECT_TRUE(testing::contains(testing::error_message([&] { json_dumps(Value(std::string(200, 'x')), options); }),
                                "more than the 100"));
}

// Copying a list copies its strings (lists and dicts are shared, strings are not), so repeating or concatenating
// a list is bounded by the bytes it copies, not by its length.
TEST(JinjaTemplate, ListsRepeatedOrConcatenatedAreBoundedByTheBytesTheyCopy) {
  TemplateOptions options;
  options.limits.max_output_bytes = 100000;
  EXPECT_TRUE(
      testing::contains(testing::error_message([&] { Template("{{ ['x' * 10000] * 20 }}", "t", options).render({}); }),
                        "sequence repetition larger than 100000 bytes"));
  EXPECT_TRUE(testing::contains(testing::error_message([&] {
                                  Template(
                                      "{% set ns = namespace(l=['x' * 10000]) %}"
                                      "{% for i in range(5) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
                                      "t", options)
                                      .render({});
                                }),
                                "list concatenation larger than 100000 bytes"));
  EXPECT_EQ(Template("{{ (['ab'] * 3 + ['c']) | join }}", "t", options).render({}), "abababc");
}

}  // namespace
}  // namespace ladle::text::jinja
