// adapter_config.json (lib/model/lora_adapter_config.h): what is written reads back equal, rank_pattern keys match
// module names exactly as PEFT's get_pattern_key does with Python's `re` (run here as the reference), and
// expressions that would crash or hang a backtracking engine are errors.
#include "lib/model/lora_adapter_config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::model {
namespace {

using testing::contains;
using testing::error_message;

std::string with_rank_pattern(const std::string& patterns) {
  return R"({"peft_type": "LORA", "r": 8, "target_modules": ["q_proj"], "rank_pattern": )" + patterns + "}";
}

TEST(LoraAdapterConfigTest, WhatIsWrittenReadsBackEqual) {
  LoraAdapterConfig config;
  config.options = {16, 24.5, 0.05, {"q_proj", "down_proj"}, 0};
  config.fan_in_fan_out = true;
  config.base_model_name_or_path = "Qwen/Qwen3-0.6B";
  config.rank_pattern = {{"z_last_but_first", 4}, {"layers\\.1\\..*", 2}};
  config.alpha_pattern = {{"down_proj", 3.25}, {"a", 8}};
  config.modules_to_save = {"lm_head"};
  config.lora_bias = true;
  config.use_rslora = true;
  const std::string text = lora_adapter_config_json(config);
  EXPECT_EQ(parse_lora_adapter_config(text, "a.json"), config);
  // The patterns keep their order (PEFT takes the first key that matches), not the sorted order of a JSON object.
  EXPECT_LT(text.find("z_last_but_first"), text.find("layers\\\\.1"));
  // PEFT's defaults when only the required fields are given.
  const auto defaults = parse_lora_adapter_config(R"({"peft_type": "LORA", "target_modules": ["c_attn"]})", "b.json");
  EXPECT_EQ(defaults.options.r, 8);
  EXPECT_EQ(defaults.options.alpha, 8);
  EXPECT_TRUE(defaults.rank_pattern.empty());
}

TEST(LoraAdapterConfigTest, PatternKeysPickTheModulesPythonsReDoes) {
  const std::vector<std::string> keys = {"q_proj",
                                         "layers\\.1\\.self_attn\\.q_proj",
                                         "layers.1.self_attn.q_proj",
                                         "layers\\.(2|3)\\..*",
                                         "[kv]_proj",
                                         "proj",
                                         "mlp\\.down_proj",
                                         "model.layers.10.mlp.down_proj",
                                         "(?i:LM_HEAD)",
                                         "h\\.\\d+\\.attn\\.c_attn",
                                         "x|q_proj",
                                         "embed_tokens$"};
  const std::vector<std::string> modules = {"model.layers.1.self_attn.q_proj", "model.layers.10.self_attn.q_proj",
                                            "model.layers.3.self_attn.k_proj", "model.layers.10.mlp.down_proj",
                                            "model.layers.1x1.mlp.down_proj",  "lm_head",
                                            "transformer.h.11.attn.c_attn",    "model.embed_tokens",
                                            "model.layers.2.mlp.up_proj"};
  std::string script =
      "import re, sys\nkeys = sys.argv[1].split('\\n')\nfor module in sys.argv[2].split('\\n'):\n"
      "    print(''.join('1' if re.match(rf'(.*\\.)?({k})$', module) else '0' for k in keys))\n";
  std::string key_lines, module_lines;
  for (const auto& key : keys) key_lines += (key_lines.empty() ? "" : "\n") + key;
  for (const auto& module : modules) module_lines += (module_lines.empty() ? "" : "\n") + module;
  const auto python = testing::run_command(testing::python_program(), {"-c", script, key_lines, module_lines});
  ASSERT_EQ(python.exit_code, 0) << python.err;
  std::string ours;
  for (const auto& module : modules) {
    for (const auto& key : keys) {
      const std::vector<std::pair<std::string, std::int64_t>> one = {{key, 1}};
      ours += pattern_value(one, module) != nullptr ? "1" : "0";
    }
    ours += "\n";
  }
  EXPECT_EQ(ours, python.out);
  // First match in order wins.
  const std::vector<std::pair<std::string, std::int64_t>> ordered = {{"down_proj", 2}, {"mlp\\..*", 3}};
  ASSERT_NE(pattern_value(ordered, "model.layers.0.mlp.down_proj"), nullptr);
  EXPECT_EQ(*pattern_value(ordered, "model.layers.0.mlp.down_proj"), 2);
  EXPECT_EQ(*pattern_value(ordered, "model.layers.0.mlp.up_proj"), 3);
}

TEST(LoraAdapterConfigTest, ExpressionsThatWouldCrashOrHangABacktrackingEngineAreErrors) {
  // 20,000 nested groups overflowed std::regex's recursive compiler's stack (a crash); Oniguruma stops at its
  // parse depth limit.
  const std::string nested = std::string(20000, '(') + "q" + std::string(20000, ')');
  EXPECT_TRUE(contains(
      error_message([&] { parse_lora_adapter_config(with_rank_pattern("{\"" + nested + "\": 2}"), "deep.json"); }),
      "deep.json: field 'rank_pattern': '((((("));
  // Exponential backtracking: std::regex ran for more than 20 s on this module name; now an error naming the key.
  const std::string exponential = "(a|a)*(a|a)*(a|a)*(a|a)*(a|a)*(a|a)*(a|a)*b";
  const auto config = parse_lora_adapter_config(with_rank_pattern("{\"" + exponential + "\": 2}"), "slow.json");
  const std::string message = error_message([&] { pattern_value(config.rank_pattern, std::string(40, 'a')); });
  EXPECT_TRUE(contains(message, "LoRA pattern '(a|a)*")) << message;
  EXPECT_TRUE(contains(message, "backtracking steps")) << message;
  // A repetition that std::regex expanded into a million states is one counted loop here.
  const auto counted = parse_lora_adapter_config(with_rank_pattern(R"({"(?:a{1000}){1000}": 2})"), "counted.json");
  EXPECT_EQ(pattern_value(counted.rank_pattern, "model.layers.0.self_attn.q_proj"), nullptr);
}

TEST(LoraAdapterConfigTest, OutOfRangeFieldsNameTheFileAndField) {
  const auto error = [](const std::string& fields) {
    return error_message([&] {
      parse_lora_adapter_config(R"({"peft_type": "LORA", "target_modules": ["q"])" + fields + "}", "c.json");
    });
  };
  EXPECT_TRUE(contains(error(R"(, "r": 2097152)"),
                       "c.json: field 'r': expected a positive integer up to 1048576, got '2097152'"));
  EXPECT_TRUE(contains(error(R"(, "lora_dropout": 1)"), "field 'lora_dropout'"));
  EXPECT_TRUE(contains(error(R"(, "rank_pattern": {"q": 0})"), "field 'rank_pattern': 'q': expected a rank"));
  EXPECT_TRUE(contains(error(R"(, "alpha_pattern": [1])"), "field 'alpha_pattern': expected an object"));
  EXPECT_TRUE(contains(error(R"(, "r": 4, "r": 5)"), "c.json"));  // a duplicate key
  EXPECT_TRUE(
      contains(error_message([] { parse_lora_adapter_config("[]", "d.json"); }), "d.json: expected a JSON object"));
}

}  // namespace
}  // namespace ladle::model
