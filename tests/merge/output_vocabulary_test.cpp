// Merges of models whose vocabularies differ (`tokenizer:` / tokenizer_source, mergekit's tokenizer/build.py and
// tokenizer/embed.py): the output vocabulary, every model's rows rearranged into it, mergekit's rows for tokens a
// model lacks computed by hand from the inputs, `tokens:` rules, pad_to_multiple_of, the written tokenizer's ids
// against the written rows, and merge check's report. Real tokenizers: tiny BPE tokenizer.json files read by
// lib/text, Qwen3's tokenizer.json (skipped without data/tokenizers) and a sentencepiece model trained here.
#include "lib/merge/output_vocabulary.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/merge/merge_check.h"
#include "lib/merge/merge_executor.h"
#include "lib/merge/merge_plan.h"
#include "lib/merge/merged_model_writer.h"
#include "lib/text/hf_tokenizer.h"
#include "lib/text/open_tokenizer.h"
#include "lib/text/sentencepiece_model_pieces.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_tokenizer.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ladle::testing::contains;
using ladle::testing::numbered_tokens;
using ladle::testing::RandomLlamaOptions;
using ladle::testing::tiny_tokenizer_json;

const char* kEmbed = "model.embed_tokens.weight";
const char* kHead = "lm_head.weight";

class OutputVocabularyTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("output-vocabulary"); }
  void TearDown() override { fs::remove_all(dir_); }

  // A random model whose tokenizer.json has `tokens` then the added `added`, one vocabulary row per token.
  NamedTensors model(const std::string& name, const std::vector<std::string>& tokens,
                     const std::vector<std::string>& added = {}, std::uint64_t seed = 1) {
    RandomLlamaOptions options;
    options.vocab = static_cast<std::int64_t>(tokens.size() + added.size());
    options.seed = seed;
    NamedTensors tensors = ladle::testing::write_random_llama(dir_ / name, options);
    ladle::testing::write_text_file(dir_ / name / "tokenizer.json", tiny_tokenizer_json(tokens, added));
    ladle::testing::write_text_file(dir_ / name / "special_tokens_map.json", "{}");  // the stand-in names <s>
    ladle::testing::write_text_file(dir_ / name / "tokenizer_config.json", json{{"eos_token", "t1"}}.dump());
    return tensors;
  }
  void load(const std::string& yaml) {
    config_ = parse_merge_config(yaml, "merge.yml", dir_);
    models_ = std::make_unique<InputModels>(config_);
  }
  // The merged tensors of a config, in memory.
  NamedTensors merge(const std::string& yaml) {
    load(yaml);
    plan_ = plan_merge(config_, *models_);
    return merge_into_tensors(plan_, *models_);
  }
  // Writes the merge of a config to <dir>/out and returns the written input embedding.
  at::Tensor write_merge(const std::string& yaml) {
    load(yaml);
    plan_ = plan_merge(config_, *models_);
    write_merged_model(config_, plan_, *models_, dir_ / "out");
    return io::CheckpointReader(dir_ / "out").read_tensor(kEmbed);
  }
  std::string plan_error(const std::string& yaml) {
    try {
      load(yaml);
      plan_merge(config_, *models_);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected an error for:\n" << yaml;
    return "";
  }

  fs::path dir_;
  MergeConfig config_;
  std::unique_ptr<InputModels> models_;
  MergePlan plan_;
};

std::string linear(const std::string& models, const std::string& tokenizer) {
  return "merge_method: linear\nmodels: [" + models + "]\nparameters: {weight: 1}\n" + tokenizer;
}

TEST_F(OutputVocabularyTest, UnionAppendsAddedTokensAndTheOnlyModelWithATokenGivesItsRow) {
  const NamedTensors a = model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", numbered_tokens(32), {"<|im_start|>", "<|im_end|>"}, 2);
  const NamedTensors merged = merge(linear("{model: a}, {model: b}", "tokenizer: {source: union}\n"));
  const OutputVocabulary& vocabulary = *plan_.vocabulary;
  ASSERT_EQ(vocabulary.tokens.size(), 34u);
  EXPECT_EQ(vocabulary.tokens[32], "<|im_start|>");
  EXPECT_EQ(vocabulary.tokens[33], "<|im_end|>");
  EXPECT_EQ(vocabulary.rows, 34);
  for (const char* name : {kEmbed, kHead}) {
    const at::Tensor expected_shared = (a.at(name) + b.at(name).narrow(0, 0, 32)) / 2;
    EXPECT_TRUE(at::equal(merged.at(name).narrow(0, 0, 32), expected_shared)) << name;
    // a lacks both: its rows are b's (the only model that has them), so the mean is b's row.
    EXPECT_TRUE(at::equal(merged.at(name).narrow(0, 32, 2), b.at(name).narrow(0, 32, 2))) << name;
  }
  EXPECT_EQ(plan_.output_config->at("vocab_size"), 34);
}

TEST_F(OutputVocabularyTest, BaseKeepsTheBaseVocabularyAndDropsOtherTokens) {
  const NamedTensors a = model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", numbered_tokens(32), {"<|im_start|>"}, 2);
  const NamedTensors merged = merge(
      "merge_method: linear\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n"
      "tokenizer: {source: base}\n");
  EXPECT_EQ(plan_.vocabulary->tokens.size(), 32u);
  EXPECT_EQ(plan_.vocabulary->model_extra.at(models_->index_of(config_.models[1].model)),
            std::vector<std::string>{"<|im_start|>"});
  EXPECT_TRUE(at::equal(merged.at(kEmbed), (a.at(kEmbed) + b.at(kEmbed).narrow(0, 0, 32)) / 2));
  EXPECT_EQ(plan_.output_config->at("vocab_size"), 32);
}

TEST_F(OutputVocabularyTest, ModelSourceTakesThatModelsVocabulary) {
  const NamedTensors a = model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", numbered_tokens(32), {"<|im_start|>"}, 2);
  const NamedTensors merged = merge(linear("{model: a}, {model: b}", "tokenizer: {source: model:b}\n"));
  EXPECT_EQ(plan_.vocabulary->tokenizer_folder, dir_ / "b");
  ASSERT_EQ(merged.at(kEmbed).size(0), 33);
  EXPECT_TRUE(at::equal(merged.at(kEmbed)[32], b.at(kEmbed)[32]));
}

TEST_F(OutputVocabularyTest, SameVocabularyInAnotherOrderEqualsTheMergeReorderedByHand) {
  std::vector<std::string> shuffled = numbered_tokens(32);
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(7));
  const NamedTensors a = model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", shuffled, {}, 2);
  const NamedTensors merged = merge(linear("{model: a}, {model: b}", "tokenizer_source: a\n"));
  // Row i of b in a's order: the row of b's id of token "t<i>".
  std::vector<std::int64_t> order;
  for (int i = 0; i < 32; ++i) {
    order.push_back(std::find(shuffled.begin(), shuffled.end(), "t" + std::to_string(i)) - shuffled.begin());
  }
  const at::Tensor index = at::tensor(order, at::kLong);
  for (const char* name : {kEmbed, kHead}) {
    EXPECT_TRUE(at::equal(merged.at(name), (a.at(name) + b.at(name).index_select(0, index)) / 2)) << name;
  }
}

TEST_F(OutputVocabularyTest, MissingTokenRowsFollowMergekitsRules) {
  // x: in b and c (a lacks it); y: only in c; z: in no model (a `tokens:` key with a zero row).
  const NamedTensors a = model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", numbered_tokens(32), {"x"}, 2);
  const NamedTensors c = model("c", numbered_tokens(32), {"x", "y"}, 3);
  const NamedTensors merged = merge(linear("{model: a}, {model: b}, {model: c}",
                                           "tokenizer:\n  source: union\n  tokens:\n    z: {source: {kind: zero}}\n"));
  const auto& tokens = plan_.vocabulary->tokens;
  ASSERT_EQ(tokens.size(), 35u);
  EXPECT_EQ(tokens[32], "x");
  EXPECT_EQ(tokens[33], "y");
  EXPECT_EQ(tokens[34], "z");
  const at::Tensor ea = a.at(kEmbed), eb = b.at(kEmbed), ec = c.at(kEmbed);
  const at::Tensor out = merged.at(kEmbed);
  // x: a's row is the mean of b's and c's.
  const at::Tensor x_in_a = (eb[32] + ec[32]) / 2;
  EXPECT_TRUE(at::allclose(out[32], (x_in_a + eb[32] + ec[32]) / 3, 1e-6, 1e-6));
  // y: a's and b's rows are c's, the only model that has it.
  EXPECT_TRUE(at::allclose(out[33], ec[33], 1e-6, 1e-6));
  EXPECT_TRUE(at::equal(out[34], at::zeros_like(out[34])));
}

TEST_F(OutputVocabularyTest, TheBaseModelsRowIsTakenWhenItHasTheToken) {
  const NamedTensors a = model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", numbered_tokens(32), {"x"}, 2);
  const NamedTensors c = model("c", numbered_tokens(32), {"x"}, 3);
  const NamedTensors merged = merge(
      "merge_method: linear\nbase_model: b\nmodels: [{model: a}, {model: b}, {model: c}]\n"
      "parameters: {weight: 1}\ntokenizer: {source: union}\n");
  const at::Tensor eb = b.at(kEmbed), ec = c.at(kEmbed);
  // a lacks x: its row is the base model b's.
  EXPECT_TRUE(at::allclose(merged.at(kEmbed)[32], (eb[32] + eb[32] + ec[32]) / 3, 1e-6, 1e-6));
}

TEST_F(OutputVocabularyTest, TokenRulesOverrideTheDefaultsAndForceReplacesEveryModelsRow) {
  const NamedTensors a = model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", numbered_tokens(32), {"x", "y"}, 2);
  const NamedTensors merged = merge(linear("{model: a}, {model: b}",
                                           "tokenizer:\n  source: union\n  tokens:\n"
                                           "    x: {source: {kind: model_token, model: a, token: t5}}\n"
                                           "    y: {source: {kind: model_token, model: a, token_id: 7}, force: true}\n"
                                           "    t3: {source: {kind: zero}, force: true}\n"));
  const at::Tensor ea = a.at(kEmbed), eb = b.at(kEmbed), out = merged.at(kEmbed);
  EXPECT_TRUE(at::allclose(out[32], (ea[5] + eb[32]) / 2, 1e-6, 1e-6));  // a takes its t5 row; b keeps its own
  EXPECT_TRUE(at::allclose(out[33], ea[7], 1e-6, 1e-6));                 // forced: both take a's row 7
  EXPECT_TRUE(at::equal(out[3], at::zeros_like(out[3])));                // forced zero
}

TEST_F(OutputVocabularyTest, PadToMultipleOfAddsMeanRowsAndSetsVocabSize) {
  const NamedTensors a = model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", numbered_tokens(32), {"x", "y"}, 2);
  const NamedTensors merged =
      merge(linear("{model: a}, {model: b}", "tokenizer: {source: union, pad_to_multiple_of: 16}\n"));
  const at::Tensor out = merged.at(kEmbed);
  ASSERT_EQ(out.size(0), 48);
  EXPECT_EQ(plan_.output_config->at("vocab_size"), 48);
  // Each model's padding rows are the mean of its 34 rearranged token rows (a's rows of x and y are b's).
  const at::Tensor a_rows = at::cat({a.at(kEmbed), b.at(kEmbed).narrow(0, 32, 2)});
  const at::Tensor expected = (a_rows.mean(0) + b.at(kEmbed).mean(0)) / 2;
  for (std::int64_t row = 34; row < 48; ++row) EXPECT_TRUE(at::allclose(out[row], expected, 1e-5, 1e-6)) << row;
}

TEST_F(OutputVocabularyTest, WrittenTokenizerGivesEachAddedTokenItsRow) {
  model("a", numbered_tokens(32), {}, 1);
  const NamedTensors b = model("b", numbered_tokens(32), {"<|im_start|>", "<|im_end|>"}, 2);
  const at::Tensor rows =
      write_merge(linear("{model: a}, {model: b}", "tokenizer: {source: union}\nchat_template: chatml\n"));
  const auto tokenizer = text::open_tokenizer(dir_ / "out");
  ASSERT_EQ(tokenizer->vocab_size(), rows.size(0));
  for (const std::string token : {"<|im_start|>", "<|im_end|>"}) {
    const auto id = tokenizer->piece_id(token);
    ASSERT_TRUE(id.has_value()) << token;
    const std::int64_t b_id = token == "<|im_start|>" ? 32 : 33;
    EXPECT_EQ(*id, b_id);
    EXPECT_EQ(tokenizer->encode(token), (std::vector<std::int64_t>{*id}));
    EXPECT_TRUE(at::equal(rows[*id], b.at(kEmbed)[b_id])) << token;
  }
  const json config = json::parse(ladle::testing::read_text_file(dir_ / "out" / "tokenizer_config.json"));
  EXPECT_EQ(config["added_tokens_decoder"]["32"]["content"], "<|im_start|>");
  EXPECT_EQ(config["eos_token"], "t1");
  EXPECT_TRUE(contains(config["chat_template"].get<std::string>(), "<|im_start|>"));
  EXPECT_EQ(json::parse(ladle::testing::read_text_file(dir_ / "out" / "config.json"))["vocab_size"], 34);
}

TEST_F(OutputVocabularyTest, MergeCheckReportsEachModelsTokensAndRulesBeforeReadingTensors) {
  model("a", numbered_tokens(32), {}, 1);
  model("b", numbered_tokens(32), {"<|im_start|>", "<|im_end|>", "<|x|>"}, 2);
  load(linear("{model: a}, {model: b}",
              "tokenizer:\n  source: union\n  pad_to_multiple_of: 8\n  tokens:\n    <|x|>: {source: {kind: zero}}\n"));
  const std::string text = check_merge(config_, *models_).text();
  EXPECT_PRED2(contains, text, "vocabulary:\n  output: 35 tokens: 32 of the tokenizer in ");
  EXPECT_PRED2(contains, text,
               "pad_to_multiple_of 8: 40 rows, the 5 after the tokens = the mean of each model's "
               "token rows; config.json's vocab_size 40");
  EXPECT_PRED2(contains, text,
               "'a': 2 token(s) missing ('<|im_start|>', '<|im_end|>'): rows = from 'b', the only "
               "model that has them");
  EXPECT_PRED2(contains, text, "'a': 1 token(s) missing ('<|x|>'): rows = zero (tokens: <|x|>)");
  EXPECT_PRED2(contains, text, "'b': adds 3 token(s) to the base vocabulary ('<|im_start|>', '<|im_end|>', '<|x|>')");
  EXPECT_PRED2(contains, text, "result: 0 errors");
}

TEST_F(OutputVocabularyTest, BadTokenRulesNameFileLineAndKey) {
  model("a", numbered_tokens(32), {}, 1);
  model("b", numbered_tokens(32), {"x"}, 2);
  const std::string models = "{model: a}, {model: b}";
  EXPECT_PRED2(contains, plan_error(linear(models, "tokenizer:\n  tokens:\n    x: {source: model:c}\n")),
               "merge.yml:6: tokenizer.tokens.x.source: expected one of the merged models ('a', 'b'), got 'c'");
  EXPECT_PRED2(contains, plan_error(linear(models, "tokenizer:\n  tokens:\n    x: {source: model:a}\n")),
               "merge.yml:6: tokenizer.tokens.x.source: expected a model that has the token 'x', got 'a'");
  EXPECT_PRED2(contains,
               plan_error(linear(models,
                                 "tokenizer:\n  tokens:\n    x: {source: {kind: model_token, model: a, "
                                 "token: nope}}\n")),
               "merge.yml:6: tokenizer.tokens.x.source.token: expected a token of 'a''s tokenizer, got 'nope'");
  EXPECT_PRED2(contains,
               plan_error(linear(models,
                                 "tokenizer:\n  tokens:\n    x: {source: {kind: model_token, model: a, "
                                 "token_id: 99}}\n")),
               "tokenizer.tokens.x.source.token_id: expected a token id below 'a''s 32 vocabulary rows, got 99");
  EXPECT_PRED2(contains, plan_error(linear(models, "tokenizer: {source: model:gone}\n")),
               "merge.yml:4: tokenizer: expected a model folder holding tokenizer files, got 'gone'");
}

TEST_F(OutputVocabularyTest, ChatTemplateIsChosenByNameAutoOrLiteralAndRenderChecked) {
  model("a", numbered_tokens(32), {}, 1);
  model("b", numbered_tokens(32), {}, 2);
  const std::string models = "{model: a}, {model: b}";
  const auto chosen = [&](const std::string& line) {
    load(linear(models, line));
    return plan_merge(config_, *models_).chat_template;
  };
  EXPECT_FALSE(chosen("").has_value());
  EXPECT_PRED2(contains, *chosen("chat_template: llama3\n"), "<|start_header_id|>");
  const std::string literal = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
  EXPECT_EQ(*chosen("chat_template: \"" + literal + "\"\n"), literal);
  // auto: the template two of the three models have wins.
  ladle::testing::write_text_file(dir_ / "a" / "chat_template.jinja", "{{ 'A' }}\n");
  ladle::testing::write_text_file(dir_ / "b" / "chat_template.jinja", "  {{ 'B' }}");
  model("c", numbered_tokens(32), {}, 3);
  ladle::testing::write_text_file(dir_ / "c" / "chat_template.jinja", "{{ 'B' }}\n");
  load(linear("{model: a}, {model: b}, {model: c}", "chat_template: auto\n"));
  EXPECT_EQ(*plan_merge(config_, *models_).chat_template, "{{ 'B' }}");

  EXPECT_PRED2(contains, plan_error(linear(models, "chat_template: vicuna\n")),
               "merge.yml:4: chat_template: expected one of alpaca, chatml, exaone, llama3, mistral, auto, or a "
               "Jinja template, got 'vicuna'");
  EXPECT_PRED2(contains, plan_error(linear(models, "chat_template: \"{% for m in messages %}{{ m.content }}\"\n")),
               "merge.yml:4: chat_template: expected a template that renders");
}

TEST_F(OutputVocabularyTest, EveryShippedTemplateRendersAConversation) {
  model("a", numbered_tokens(32), {}, 1);
  for (const std::string name : {"alpaca", "chatml", "exaone", "llama3", "mistral"}) {
    load(linear("{model: a}", "chat_template: " + name + "\n"));
    EXPECT_NO_THROW(plan_merge(config_, *models_)) << name;
  }
}

// Qwen3's real tokenizer.json, with two tokens added on one side as a fine-tune that grew its vocabulary adds them.
TEST_F(OutputVocabularyTest, QwenTokenizerWithAddedTokensKeepsIdsAndRowsTogether) {
  const fs::path qwen = fs::path(LADLE_SOURCE_DIR) / "data" / "tokenizers" / "qwen3";
  if (!fs::exists(qwen / "tokenizer.json"))
    GTEST_SKIP() << "data/tokenizers/qwen3 missing (run scripts/fetch-hf-tokenizers.sh)";
  const auto original = text::HfTokenizer::from_tokenizer_json(qwen / "tokenizer.json");
  const std::int64_t count = original->vocab_size();
  json grown = json::parse(ladle::testing::read_text_file(qwen / "tokenizer.json"));
  for (const std::string token : {"<|ladle_tool|>", "<|ladle_result|>"}) {
    grown["added_tokens"].push_back({{"id", count + (token == "<|ladle_tool|>" ? 0 : 1)},
                                     {"content", token},
                                     {"single_word", false},
                                     {"lstrip", false},
                                     {"rstrip", false},
                                     {"normalized", false},
                                     {"special", true}});
  }
  RandomLlamaOptions options;
  options.hidden = 4;
  options.intermediate = 4;
  options.vocab = count;
  options.seed = 1;
  const NamedTensors a = ladle::testing::write_random_llama(dir_ / "a", options);
  fs::copy_file(qwen / "tokenizer.json", dir_ / "a" / "tokenizer.json", fs::copy_options::overwrite_existing);
  fs::copy_file(qwen / "tokenizer_config.json", dir_ / "a" / "tokenizer_config.json",
                fs::copy_options::overwrite_existing);
  fs::remove(dir_ / "a" / "special_tokens_map.json");
  options.vocab = count + 2;
  options.seed = 2;
  const NamedTensors b = ladle::testing::write_random_llama(dir_ / "b", options);
  ladle::testing::write_text_file(dir_ / "b" / "tokenizer.json", grown.dump());
  fs::copy_file(qwen / "tokenizer_config.json", dir_ / "b" / "tokenizer_config.json",
                fs::copy_options::overwrite_existing);
  fs::remove(dir_ / "b" / "special_tokens_map.json");

  const at::Tensor rows =
      write_merge(linear("{model: a}, {model: b}", "tokenizer: {source: union, pad_to_multiple_of: 64}\n"));
  const auto tokenizer = text::open_tokenizer(dir_ / "out");
  EXPECT_EQ(rows.size(0), (count + 2 + 63) / 64 * 64);
  EXPECT_EQ(tokenizer->vocab_size(), count + 2);
  EXPECT_EQ(tokenizer->encode("hello world"), original->encode("hello world"));
  for (const std::string token : {"<|ladle_tool|>", "<|ladle_result|>"}) {
    const std::int64_t id = count + (token == "<|ladle_tool|>" ? 0 : 1);
    EXPECT_EQ(tokenizer->encode("hi" + token), (std::vector<std::int64_t>{original->encode("hi")[0], id}));
    EXPECT_TRUE(at::equal(rows[id], b.at(kEmbed)[id])) << token;
  }
  const std::int64_t hello = original->encode("hello")[0];
  EXPECT_TRUE(at::equal(rows[hello], (a.at(kEmbed)[hello] + b.at(kEmbed)[hello]) / 2));
}

// A sentencepiece tokenizer.model on both sides, two USER_DEFINED pieces appended on one: the output's
// tokenizer.model gets them at the ids of their rows.
TEST_F(OutputVocabularyTest, SentencePieceModelGetsAddedPiecesAsUserDefined) {
  const std::int64_t kPieces = 600;
  text::SentencePieceTrainOptions train;
  train.inputs = {"/usr/share/common-licenses/GPL-3"};
  train.output = dir_ / "spm.model";
  train.vocab_size = kPieces;
  text::train_sentencepiece(train);
  const std::string original = ladle::testing::read_text_file(train.output);
  RandomLlamaOptions options;
  options.vocab = kPieces;
  options.tokenizer = false;
  const NamedTensors a = ladle::testing::write_random_llama(dir_ / "a", options);
  ladle::testing::write_text_file(dir_ / "a" / "tokenizer.model", original);
  options.vocab = kPieces + 2;
  options.seed = 2;
  const NamedTensors b = ladle::testing::write_random_llama(dir_ / "b", options);
  ladle::testing::write_text_file(dir_ / "b" / "tokenizer.model",
                                  text::append_user_defined_pieces(original, {"<tool>", "<result>"}));

  const at::Tensor rows = write_merge(linear("{model: a}, {model: b}", "tokenizer: {source: union}\n"));
  const text::SentencePieceTokenizer tokenizer(dir_ / "out" / "tokenizer.model");
  ASSERT_EQ(tokenizer.vocab_size(), kPieces + 2);
  ASSERT_EQ(rows.size(0), kPieces + 2);
  EXPECT_EQ(tokenizer.piece_id("<tool>"), kPieces);
  EXPECT_EQ(tokenizer.piece_id("<result>"), kPieces + 1);
  EXPECT_EQ(tokenizer.encode("the<tool>").back(), kPieces);  // matched whole, as a user-defined piece is
  EXPECT_TRUE(at::equal(rows[kPieces + 1], b.at(kEmbed)[kPieces + 1]));
}

}  // namespace
}  // namespace ladle::merge
