// The real models' chat templates (data/tokenizers/*/tokenizer_config.json) on what ladle's conversations do
// not exercise: tools, tool calls and tool results, reasoning, content parts, several system messages, and a
// template's own raise_exception. Rendered by the interpreter and by python3-jinja2
// (tests/tools/jinja_reference.py), compared byte for byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/io/json_file.h"
#include "lib/text/jinja/json_value.h"
#include "lib/text/jinja/template.h"
#include "lib/util/error.h"
#include "lib/util/splitmix64.h"
#include "tests/support/command_runner.h"

namespace ladle::text::jinja {
namespace {

namespace fs = std::filesystem;

struct RealCase {
  const char* model;
  const char* name;
  const char* variables;  // JSON object
};

const RealCase kRealCases[] = {
    {"qwen3", "tools_and_reasoning", R"({
      "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city — °C",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
      "messages": [
        {"role": "system", "content": "You help."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "{\"temp\": 20}"},
        {"role": "tool", "content": "{\"wind\": 3.5}"},
        {"role": "assistant", "content": "<think>\nIt is mild.\n</think>\n\nIt is 20 °C.", "reasoning_content": null},
        {"role": "user", "content": "Thanks"}],
      "add_generation_prompt": true, "enable_thinking": false, "eos_token": "<|im_end|>"})"},
    {"qwen3", "reasoning_kept_after_last_query", R"({
      "messages": [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1", "reasoning_content": "r1"},
        {"role": "user", "content": "<tool_response>x</tool_response>"},
        {"role": "assistant", "content": "<think>r2</think>a2"}],
      "add_generation_prompt": false})"},
    {"deepseek_v3", "tool_calls_and_two_system_messages", R"({
      "bos_token": "<｜begin▁of▁sentence｜>",
      "messages": [
        {"role": "system", "content": "First rule."},
        {"role": "system", "content": "Second rule."},
        {"role": "user", "content": "Add 2 and 3"},
        {"role": "assistant", "content": null, "tool_calls": [
          {"type": "function", "function": {"name": "add", "arguments": "{\"a\": 2, \"b\": 3}"}},
          {"type": "function", "function": {"name": "log", "arguments": "{}"}}]},
        {"role": "tool", "content": "5"},
        {"role": "tool", "content": "ok"},
        {"role": "assistant", "content": "The sum is 5."},
        {"role": "user", "content": "And 4 + 4?"}],
      "add_generation_prompt": true})"},
    {"gemma3", "content_parts", R"({
      "bos_token": "<bos>",
      "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Describe images."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "  What is this?  "}]},
        {"role": "assistant", "content": "A cat."}],
      "add_generation_prompt": true})"},
    {"gemma3", "roles_must_alternate", R"({
      "bos_token": "<bos>", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]})"},
    {"llama3_1", "no_bos_token_defined", R"({
      "messages": [{"role": "user", "content": "\n hi \n"}, {"role": "assistant", "content": "yo"}],
      "add_generation_prompt": true})"},
};

fs::path config_path(const std::string& model) {
  return fs::path(LADLE_SOURCE_DIR) / "data" / "tokenizers" / model / "tokenizer_config.json";
}

TEST(JinjaRealTemplates, MatchPythonJinja2ByteForByte) {
  nlohmann::ordered_json cases = nlohmann::ordered_json::array();
  std::vector<const RealCase*> present;
  for (const auto& c : kRealCases) {
    if (!fs::exists(config_path(c.model))) continue;
    const auto config = io::read_json_file(config_path(c.model), 64);
    cases.push_back({{"template", config["chat_template"].get<std::string>()},
                     {"variables", nlohmann::ordered_json::parse(c.variables)}});
    present.push_back(&c);
  }
  if (present.empty()) GTEST_SKIP() << "data/tokenizers is missing (run scripts/fetch-hf-tokenizers.sh)";
  const auto dir = testing::make_temp_dir("jinja_real");
  std::ofstream(dir + "/cases.json") << cases.dump();
  const auto result = testing::run_command(
      testing::python_program(),
      {std::string(LADLE_SOURCE_DIR) + "/tests/tools/jinja_reference.py", "templates", dir + "/cases.json"});
  fs::remove_all(dir);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto expected = nlohmann::json::parse(result.out);
  for (std::size_t i = 0; i < present.size(); ++i) {
    const std::string label = std::string(present[i]->model) + " / " + present[i]->name;
    std::string output;
    std::string error;
    try {
      const Template t(cases[i]["template"].get<std::string>(), label);
      output = t.render(from_json(cases[i]["variables"]).as_dict());
    } catch (const Error& e) {
      error = e.what();
    }
    if (expected[i].contains("error")) {
      EXPECT_FALSE(error.empty()) << label << ": python3-jinja2 failed (" << expected[i]["error"] << ") but ladle rendered";
    } else {
      EXPECT_EQ(error, "") << label;
      EXPECT_EQ(output, expected[i]["output"].get<std::string>()) << label;
    }
  }
}

// Templates are hostile input: the real ones with random bytes deleted, duplicated or replaced either render or
// fail with a ladle::Error; nothing else escapes and nothing crashes.
TEST(JinjaRealTemplates, MutatedTemplatesFailCleanly) {
  const std::string punctuation = "{}%#-+()[]'\"|.,:~=! \n\\abz019";
  std::uint64_t state = 14;
  const auto next = [&state] { return state = splitmix64(state); };
  int templates = 0;
  for (const char* model : {"llama3_1", "qwen3", "gemma3", "deepseek_v3"}) {
    if (!fs::exists(config_path(model))) continue;
    const auto config = io::read_json_file(config_path(model), 64);
    const auto source = config["chat_template"].get<std::string>();
    const Value variables = from_json(nlohmann::ordered_json::parse(kRealCases[0].variables));
    for (int trial = 0; trial < 300; ++trial) {
      std::string mutated = source;
      for (int edit = 0; edit < 1 + static_cast<int>(next() % 4); ++edit) {
        const auto at = next() % mutated.size();
        switch (next() % 3) {
          case 0: mutated.erase(at, 1 + next() % 8); break;
          case 1: mutated.insert(at, mutated.substr(next() % mutated.size(), 1 + next() % 16)); break;
          default: mutated[at] = punctuation[next() % punctuation.size()];
        }
      }
      try {
        Template(mutated, "mutated").render(variables.as_dict());
      } catch (const Error&) {
      } catch (const std::exception& other) {
        ADD_FAILURE() << model << " trial " << trial << ": " << other.what() << "\n" << mutated;
      }
      ++templates;
    }
  }
  if (templates == 0) GTEST_SKIP() << "data/tokenizers is missing (run scripts/fetch-hf-tokenizers.sh)";
}

}  // namespace
}  // namespace ladle::text::jinja
