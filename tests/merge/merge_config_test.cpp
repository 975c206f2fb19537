// Parsing mergekit YAML configs: schema, parameter settings (scalars, gradients, filters) and errors that name the
// file, line and key.
#include <gtest/gtest.h>

#include <string>

#include "lib/merge/merge_config.h"
#include "lib/util/error.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::contains;

MergeConfig parse(const std::string& text) { return parse_merge_config(text, "merge.yml", "/configs"); }

// The ladle::Error message parsing `text` throws (fails the test when it does not throw).
std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error for:\n" << text;
  return "";
}

TEST(MergeConfig, ParsesModelsWithPerModelAndTopLevelParameters) {
  const MergeConfig config = parse(
      "merge_method: linear\n"
      "models:\n"
      "  - model: ./a\n"
      "    parameters:\n"
      "      weight: 0.3\n"
      "  - model: /abs/b\n"
      "    parameters: {weight: 0.7}\n"
      "parameters:\n"
      "  normalize: false\n"
      "dtype: bfloat16\n"
      "out_dtype: float16\n");
  EXPECT_EQ(config.merge_method, "linear");
  ASSERT_EQ(config.models.size(), 2u);
  EXPECT_EQ(config.models[0].model.path, "/configs/a");
  EXPECT_EQ(config.models[1].model.path, "/abs/b");
  EXPECT_EQ(config.models[0].parameters.at("weight").evaluate("x", 0), 0.3);
  EXPECT_EQ(config.models[1].parameters.at("weight").evaluate("x", 0), 0.7);
  EXPECT_EQ(config.parameters.at("normalize").evaluate("x", 0), 0.0);
  EXPECT_EQ(config.dtype, c10::kBFloat16);
  EXPECT_EQ(config.out_dtype, c10::kHalf);
}

TEST(MergeConfig, RelativeModelPathsResolveAgainstTheConfigFolder) {
  const MergeConfig config = parse("merge_method: linear\nbase_model: ../models/base/\nmodels:\n  - model: a\n");
  EXPECT_EQ(config.base_model->path, "/models/base");
  EXPECT_EQ(config.models[0].model.path, "/configs/a");
  EXPECT_EQ(config.base_model->name, "../models/base/");
}

TEST(MergeConfig, ModelsAreReferencedOnceInOrderOfMentionBaseFirst) {
  const MergeConfig config =
      parse("merge_method: ties\nbase_model: ./base\nmodels:\n  - model: ./a\n  - model: ./base\n  - model: ./b\n");
  const auto models = config.referenced_models();
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].name, "./base");
  EXPECT_EQ(models[1].name, "./a");
  EXPECT_EQ(models[2].name, "./b");
}

TEST(MergeConfig, GradientIsInterpolatedLinearlyOverTheRelativeLayerPosition) {
  const MergeConfig config = parse("merge_method: slerp\nmodels:\n  - model: a\nparameters:\n  t: [0, 0.5, 0.3]\n");
  const ParameterSetting& t = config.parameters.at("t");
  // mergekit's evaluate_setting: x = t·(n−1), i = ⌊x⌋, (1−f)·v[i] + f·v[i+1].
  EXPECT_DOUBLE_EQ(*t.evaluate("x", 0.0), 0.0);
  EXPECT_DOUBLE_EQ(*t.evaluate("x", 0.25), 0.25);
  EXPECT_DOUBLE_EQ(*t.evaluate("x", 0.5), 0.5);
  EXPECT_DOUBLE_EQ(*t.evaluate("x", 0.75), 0.5 * 0.5 + 0.5 * 0.3);
  EXPECT_DOUBLE_EQ(*t.evaluate("x", 1.0), 0.3);
}

TEST(MergeConfig, BooleanListStepsInsteadOfInterpolating) {
  const MergeConfig config = parse("merge_method: ties\nmodels:\n  - model: a\nparameters:\n  normalize: [true, false]\n");
  const ParameterSetting& normalize = config.parameters.at("normalize");
  EXPECT_EQ(*normalize.evaluate("x", 0.0), 1.0);
  EXPECT_EQ(*normalize.evaluate("x", 0.9), 1.0);
  EXPECT_EQ(*normalize.evaluate("x", 1.0), 0.0);
}

TEST(MergeConfig, FilteredSettingTakesTheFirstMatchingEntry) {
  const MergeConfig config = parse(
      "merge_method: slerp\nmodels:\n  - model: a\nparameters:\n  t:\n"
      "    - filter: self_attn\n      value: 0.1\n"
      "    - filter: mlp\n      value: [0, 1]\n"
      "    - value: 0.5\n");
  const ParameterSetting& t = config.parameters.at("t");
  EXPECT_EQ(*t.evaluate("model.layers.0.self_attn.q_proj.weight", 0.3), 0.1);
  EXPECT_DOUBLE_EQ(*t.evaluate("model.layers.0.mlp.up_proj.weight", 0.3), 0.3);
  EXPECT_EQ(*t.evaluate("model.norm.weight", 0.3), 0.5);
}

TEST(MergeConfig, FilteredSettingWithoutFallbackHasNoValueForOtherTensors) {
  const MergeConfig config =
      parse("merge_method: linear\nmodels:\n  - model: a\nparameters:\n  weight:\n    - filter: mlp\n      value: 2\n");
  EXPECT_FALSE(config.parameters.at("weight").evaluate("model.norm.weight", 0).has_value());
}

TEST(MergeConfig, SlicesKeepLayerRangesAndParameters) {
  const MergeConfig config = parse(
      "merge_method: passthrough\n"
      "slices:\n"
      "  - sources:\n"
      "      - model: a\n        layer_range: [0, 2]\n"
      "  - sources:\n"
      "      - model: b\n        layer_range: [1, 3]\n        parameters: {scale: 0.5}\n"
      "    parameters: {scale: 2}\n");
  ASSERT_EQ(config.slices.size(), 2u);
  EXPECT_EQ(config.slices[0].sources[0].layer_range, std::make_pair(std::int64_t{0}, std::int64_t{2}));
  EXPECT_EQ(config.slices[1].sources[0].layer_range, std::make_pair(std::int64_t{1}, std::int64_t{3}));
  EXPECT_EQ(config.slices[1].sources[0].parameters.at("scale").evaluate("x", 0), 0.5);
  EXPECT_EQ(config.slices[1].parameters.at("scale").evaluate("x", 0), 2.0);
  EXPECT_EQ(config.slices[1].sources[0].key_path, "slices[1].sources[0]");
}

TEST(MergeConfig, EmptyParametersAreAllowed) {
  EXPECT_TRUE(parse("merge_method: linear\nmodels:\n  - model: a\nparameters:\n").parameters.empty());
}

TEST(MergeConfig, TokenizerSourceIsBaseUnionOrAModel) {
  using Kind = TokenizerSource::Kind;
  EXPECT_EQ(parse("merge_method: linear\nmodels: [{model: a}]\ntokenizer_source: base\n").tokenizer->source.kind,
            Kind::base);
  EXPECT_EQ(parse("merge_method: linear\nmodels: [{model: a}]\ntokenizer_source: union\n").tokenizer->source.kind,
            Kind::union_of_models);
  const MergeConfig config = parse("merge_method: linear\nmodels: [{model: a}]\ntokenizer_source: ./tok\n");
  EXPECT_EQ(config.tokenizer->source.kind, Kind::model);
  EXPECT_EQ(config.tokenizer->source.model->path, "/configs/tok");
  EXPECT_EQ(config.tokenizer->key, "tokenizer_source");
  const MergeConfig nested = parse("merge_method: linear\nmodels: [{model: a}]\ntokenizer:\n  source: model:./tok\n");
  EXPECT_EQ(nested.tokenizer->source.model->path, "/configs/tok");
  EXPECT_EQ(nested.tokenizer->key, "tokenizer");
  // mergekit's TokenizerConfig defaults its source to union.
  EXPECT_EQ(parse("merge_method: linear\nmodels: [{model: a}]\ntokenizer: {pad_to_multiple_of: 8}\n")
                .tokenizer->source.kind,
            Kind::union_of_models);
}

TEST(MergeConfig, TokenRulesAreReadInTheOrderWritten) {
  const MergeConfig config = parse(
      "merge_method: linear\nmodels: [{model: a}, {model: b}]\ntokenizer:\n  source: base\n  tokens:\n"
      "    <|im_start|>: {source: model:b, force: true}\n"
      "    <|im_end|>:\n      source: {kind: model_token, model: a, token: </s>}\n"
      "    <pad>: {source: {kind: zero}}\n"
      "    <sep>: {source: {kind: model_token, model: b, token_id: 7}}\n"
      "  pad_to_multiple_of: 64\n");
  const TokenizerSettings& tokenizer = *config.tokenizer;
  ASSERT_EQ(tokenizer.tokens.size(), 4u);
  EXPECT_EQ(tokenizer.tokens[0].token, "<|im_start|>");
  EXPECT_EQ(tokenizer.tokens[0].source->kind, TokenRowSource::Kind::model);
  EXPECT_EQ(tokenizer.tokens[0].source->model->path, "/configs/b");
  EXPECT_TRUE(tokenizer.tokens[0].force);
  EXPECT_EQ(tokenizer.tokens[1].source->kind, TokenRowSource::Kind::model_token);
  EXPECT_EQ(*tokenizer.tokens[1].source->token, "</s>");
  EXPECT_FALSE(tokenizer.tokens[1].force);
  EXPECT_EQ(tokenizer.tokens[2].source->kind, TokenRowSource::Kind::zero);
  EXPECT_EQ(*tokenizer.tokens[3].source->token_id, 7);
  EXPECT_EQ(tokenizer.tokens[3].line, 10);
  EXPECT_EQ(*tokenizer.pad_to_multiple_of, 64);
}

TEST(MergeConfig, BadTokenizerSettingsNameFileLineAndKey) {
  const std::string base = "merge_method: linear\nmodels: [{model: a}]\n";
  const auto error = [&](const std::string& yaml) { return parse_error(base + yaml); };
  EXPECT_PRED2(contains, error("tokenizer_source: base\ntokenizer: {source: union}\n"),
                       "merge.yml:4: tokenizer: expected either tokenizer or tokenizer_source (merge.yml:3)");
  EXPECT_PRED2(contains, error("tokenizer: {source: [a]}\n"), "merge.yml:3: tokenizer.source: expected base, union");
  EXPECT_PRED2(contains, error("tokenizer: {sorce: base}\n"), "tokenizer.sorce");
  EXPECT_PRED2(contains, error("tokenizer: {pad_to_multiple_of: 0}\n"), "tokenizer.pad_to_multiple_of: expected");
  EXPECT_PRED2(contains, error("tokenizer:\n  tokens:\n    <x>: {force: true}\n"),
                       "merge.yml:5: tokenizer.tokens.<x>: expected a 'source'");
  EXPECT_PRED2(contains, error("tokenizer:\n  tokens:\n    <x>: {source: {kind: one}}\n"),
                       "tokenizer.tokens.<x>.source.kind: expected model_token or zero, got 'one'");
  EXPECT_PRED2(contains, error("tokenizer:\n  tokens:\n    <x>: {source: {kind: model_token, model: a}}\n"),
                       "tokenizer.tokens.<x>.source: kind model_token needs exactly one of 'token' and 'token_id'");
  EXPECT_PRED2(contains, error("tokenizer:\n  tokens:\n    <x>: {source: {kind: zero, model: a}}\n"),
                       "kind zero takes no 'model'");
  EXPECT_PRED2(contains, error("tokenizer:\n  tokens:\n    <x>: {source: {kind: model_token, token: a}}\n"),
                       "kind model_token needs 'model'");
}

TEST(MergeConfig, ChatTemplateIsKeptWithItsLine) {
  const MergeConfig config = parse("merge_method: linear\nmodels: [{model: a}]\nchat_template: chatml\n");
  EXPECT_TRUE(config.warnings.empty());
  EXPECT_EQ(config.chat_template, "chatml");
  EXPECT_EQ(config.chat_template_line, 3);
}

TEST(MergeConfig, UnknownKeyIsAnErrorNamingKeyAndLine) {
  const std::string error = parse_error("merge_method: linear\nmodels:\n  - model: a\n    paramters: {weight: 1}\n");
  EXPECT_NE(error.find("merge.yml:4"), std::string::npos) << error;
  EXPECT_NE(error.find("models[0].paramters"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown key"), std::string::npos) << error;
}

TEST(MergeConfig, WrongTypeIsAnErrorNamingKeyAndLine) {
  const std::string error =
      parse_error("merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: heavy\n");
  EXPECT_NE(error.find("merge.yml:5"), std::string::npos) << error;
  EXPECT_NE(error.find("models[0].parameters.weight"), std::string::npos) << error;
  EXPECT_NE(error.find("'heavy'"), std::string::npos) << error;
}

TEST(MergeConfig, QuotedNumberIsNotANumber) {
  const std::string error = parse_error("merge_method: linear\nmodels:\n  - model: a\nparameters: {weight: '0.5'}\n");
  EXPECT_NE(error.find("parameters.weight"), std::string::npos) << error;
}

TEST(MergeConfig, NonFiniteNumberIsRefused) {
  const std::string error = parse_error("merge_method: linear\nmodels:\n  - model: a\nparameters: {weight: .nan}\n");
  EXPECT_NE(error.find("parameters.weight"), std::string::npos) << error;
}

TEST(MergeConfig, MissingMergeMethodIsAnError) {
  EXPECT_NE(parse_error("models:\n  - model: a\n").find("merge_method"), std::string::npos);
}

TEST(MergeConfig, ModelsAndSlicesTogetherAreRefused) {
  const std::string error = parse_error(
      "merge_method: linear\nmodels: [{model: a}]\nslices:\n  - sources: [{model: a, layer_range: [0, 1]}]\n");
  EXPECT_NE(error.find("exactly one of 'models'"), std::string::npos) << error;
}

TEST(MergeConfig, EmptyLayerRangeIsRefused) {
  const std::string error =
      parse_error("merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [2, 2]\n");
  EXPECT_NE(error.find("merge.yml:5"), std::string::npos) << error;
  EXPECT_NE(error.find("layer_range"), std::string::npos) << error;
}

TEST(MergeConfig, SliceSourceWithoutLayerRangeIsRefused) {
  const std::string error = parse_error("merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n");
  EXPECT_NE(error.find("missing 'layer_range'"), std::string::npos) << error;
}

// The schema's wording (every config reader's): "given twice".
TEST(MergeConfig, RepeatedKeyIsRefused) {
  const std::string error = parse_error("merge_method: linear\nmerge_method: ties\nmodels: [{model: a}]\n");
  EXPECT_EQ(error, "merge.yml:2: merge_method: given twice") << error;
}

TEST(MergeConfig, RepeatedParameterIsRefused) {
  const std::string error =
      parse_error("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  weight: 1\n  weight: 2\n");
  EXPECT_EQ(error, "merge.yml:5: parameters.weight: given twice") << error;
}

// Errors have the format of every config reader: "FILE:LINE: key: expected ..., got ...".
TEST(MergeConfig, WrongTypeErrorHasTheReadersFormat) {
  EXPECT_EQ(parse_error("merge_method: linear\nmodels:\n  - model: a\n    parameters:\n      weight: heavy\n"),
            "merge.yml:5: models[0].parameters.weight: expected a finite number or a boolean, got 'heavy'");
  EXPECT_EQ(parse_error("merge_method: linear\nmodels: a\n"), "merge.yml:2: models: expected a list, got 'a'");
  EXPECT_EQ(parse_error("merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n"
                        "        layer_range: [0, x]\n"),
            "merge.yml:5: slices[0].sources[0].layer_range[1]: expected a whole number, got 'x'");
}

TEST(MergeConfig, UnknownKeySuggestsTheNearestKnownOne) {
  EXPECT_EQ(parse_error("merge_method: linear\nmodels:\n  - model: a\n    paramters: {weight: 1}\n"),
            "merge.yml:4: models[0].paramters: unknown key (did you mean 'parameters'?); known keys: model, "
            "parameters, fisher");
  const std::string top = parse_error("merge_method: linear\nmodels: [{model: a}]\nbase_modle: b\n");
  EXPECT_NE(top.find("merge.yml:3: base_modle: unknown key (did you mean 'base_model'?)"), std::string::npos) << top;
  const std::string slice = parse_error(
      "merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_rnage: [0, 1]\n");
  EXPECT_NE(slice.find("merge.yml:5: slices[0].sources[0].layer_rnage: unknown key (did you mean 'layer_range'?)"),
            std::string::npos)
      << slice;
}

TEST(MergeConfig, UnknownMethodSuggestsTheNearestKnownOne) {
  const std::string error = parse_error("merge_method: linaer\nmodels: [{model: a}]\n");
  EXPECT_EQ(error.find("merge.yml:1: merge_method: expected one of "), 0u) << error;
  EXPECT_NE(error.find("got 'linaer' (did you mean 'linear'?)"), std::string::npos) << error;
}

// mergekit keys ladle does not implement are refused by name, not taken for misspellings.
TEST(MergeConfig, UnsupportedMergekitKeysAreRefusedWithTheReason) {
  EXPECT_NE(parse_error("merge_method: linear\nmodules: {}\n").find("merge.yml:2: modules: multi-module merges"),
            std::string::npos);
  const std::string error = parse_error(
      "merge_method: passthrough\nslices:\n  - sources: [{model: a, layer_range: [0, 1]}]\n"
      "    residual_weight: 0.5\n");
  EXPECT_NE(error.find("merge.yml:4: slices[0].residual_weight: residual_weight (deprecated in mergekit)"),
            std::string::npos)
      << error;
}

// --help-config's reference: every top-level key, each list's entry keys, and each method's parameters with the
// ranges the methods declare.
TEST(MergeConfig, ReferenceListsKeysEntriesAndMethodParameters) {
  const auto keys = merge_config_reference();
  const auto find = [&](const std::string& key) -> const config::KeyReference* {
    for (const auto& entry : keys) {
      if (entry.key == key) return &entry;
    }
    ADD_FAILURE() << "no key " << key;
    return nullptr;
  };
  EXPECT_TRUE(find("merge_method") && find("base_model") && find("models[].model") && find("slices[].sources[]") &&
              find("slices[].sources[].layer_range") && find("parameters.NAME[].filter"));
  const config::KeyReference* density = find("ties.parameters.density");
  ASSERT_NE(density, nullptr);
  EXPECT_EQ(density->allowed, "in [0, 1]");
  EXPECT_EQ(density->default_value, 1.0);
  const config::KeyReference* epsilon = find("della.parameters.epsilon");
  ASSERT_NE(epsilon, nullptr);
  EXPECT_EQ(epsilon->allowed, "in [0, 0.5)");
  const config::KeyReference* t = find("slerp.parameters.t");
  ASSERT_NE(t, nullptr);
  EXPECT_NE(t->allowed.find("extrapolate"), std::string::npos);
}

TEST(MergeConfig, MultipleDocumentsAreRefused) {
  const std::string error = parse_error("merge_method: linear\nmodels: [{model: a}]\n---\nmerge_method: ties\n");
  EXPECT_NE(error.find("2 YAML documents"), std::string::npos) << error;
}

TEST(MergeConfig, InvalidYamlNamesTheLine) {
  const std::string error = parse_error("merge_method: linear\nmodels:\n  - model: [a\n");
  EXPECT_NE(error.find("not valid YAML"), std::string::npos) << error;
}

TEST(MergeConfig, FilteredEntryNeedsAValue) {
  const std::string error =
      parse_error("merge_method: linear\nmodels: [{model: a}]\nparameters:\n  weight:\n    - filter: mlp\n");
  EXPECT_NE(error.find("parameters.weight[0]"), std::string::npos) << error;
}

TEST(MergeConfig, DtypeNamesFollowMergekit) {
  EXPECT_EQ(parse_merge_dtype("bfloat16"), c10::kBFloat16);
  EXPECT_EQ(parse_merge_dtype("torch.float16"), c10::kHalf);
  EXPECT_EQ(parse_merge_dtype("float32"), c10::kFloat);
  EXPECT_THROW(parse_merge_dtype("int8"), Error);
  EXPECT_EQ(merge_dtype_name(c10::kBFloat16), "bfloat16");
}

}  // namespace
}  // namespace ladle::merge
