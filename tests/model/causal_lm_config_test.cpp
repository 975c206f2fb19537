// config.json parsing: the families, GPT-2's field names, and hostile input.
#include "lib/model/causal_lm_config.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/util/error.h"

namespace ladle::model {
namespace {

using json = nlohmann::json;

json llama_json() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", 128},
          {"hidden_size", 64},
          {"intermediate_size", 160},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 8},
          {"num_key_value_heads", 2},
          {"max_position_embeddings", 256},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 500000.0},
          {"tie_word_embeddings", true},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"transformers_version", "4.40.0"}};
}

// The message of the ladle::Error that parsing `config` throws ("" when it parses).
std::string parse_error(const json& config) {
  try {
    CausalLmConfig::from_json(config, "model/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CausalLmConfig, ParsesLlamaWithGroupedQueryAttention) {
  const CausalLmConfig config = CausalLmConfig::from_json(llama_json());
  EXPECT_EQ(config.family, CausalLmFamily::llama);
  EXPECT_EQ(config.hidden_size, 64);
  EXPECT_EQ(config.num_attention_heads, 8);
  EXPECT_EQ(config.key_value_heads(), 2);
  EXPECT_EQ(config.attention_head_dim(), 8);
  EXPECT_EQ(config.intermediate_size, 160);
  EXPECT_DOUBLE_EQ(config.norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config.rope_theta, 500000.0);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_FALSE(config.attention_qkv_bias);
  EXPECT_EQ(config.eos_token_ids, std::vector<std::int64_t>{2});
}

TEST(CausalLmConfig, KeyValueHeadsDefaultToAttentionHeads) {
  json fields = llama_json();
  fields.erase("num_key_value_heads");
  EXPECT_EQ(CausalLmConfig::from_json(fields).key_value_heads(), 8);
}

TEST(CausalLmConfig, MapsGpt2FieldNamesAndDefaultsInnerSizeToFourTimesHidden) {
  const CausalLmConfig config = CausalLmConfig::from_json({{"architectures", {"GPT2LMHeadModel"}},
                                                           {"n_embd", 48},
                                                           {"n_layer", 3},
                                                           {"n_head", 6},
                                                           {"n_positions", 32},
                                                           {"n_inner", nullptr},
                                                           {"vocab_size", 100},
                                                           {"layer_norm_epsilon", 1e-5},
                                                           {"activation_function", "gelu_new"}});
  EXPECT_EQ(config.family, CausalLmFamily::gpt2);
  EXPECT_EQ(config.hidden_size, 48);
  EXPECT_EQ(config.num_hidden_layers, 3);
  EXPECT_EQ(config.num_attention_heads, 6);
  EXPECT_EQ(config.max_position_embeddings, 32);
  EXPECT_EQ(config.intermediate_size, 4 * 48);
  EXPECT_EQ(config.hidden_act, Activation::gelu_tanh);
  EXPECT_TRUE(config.tie_word_embeddings);  // PretrainedConfig's default
  EXPECT_DOUBLE_EQ(config.residual_dropout, 0.1);
}

TEST(CausalLmConfig, Qwen2HasQueryKeyValueBiasesButNoOutputBias) {
  json fields = llama_json();
  fields["architectures"] = {"Qwen2ForCausalLM"};
  fields["model_type"] = "qwen2";
  const CausalLmConfig config = CausalLmConfig::from_json(fields);
  EXPECT_TRUE(config.attention_qkv_bias);
  EXPECT_FALSE(config.attention_output_bias);
}

TEST(CausalLmConfig, LlamaAttentionBiasFlagAddsAllFourBiases) {
  json fields = llama_json();
  fields["attention_bias"] = true;
  const CausalLmConfig config = CausalLmConfig::from_json(fields);
  EXPECT_TRUE(config.attention_qkv_bias);
  EXPECT_TRUE(config.attention_output_bias);
}

TEST(CausalLmConfig, ModelTypeAloneSelectsTheFamily) {
  json fields = llama_json();
  fields.erase("architectures");
  fields["model_type"] = "mistral";
  const CausalLmConfig config = CausalLmConfig::from_json(fields);
  EXPECT_EQ(config.architecture, "MistralForCausalLM");
  EXPECT_EQ(config.sliding_window, 4096);  // MistralConfig's default
}

TEST(CausalLmConfig, UnknownArchitectureListsTheSupportedOnes) {
  json fields = llama_json();
  fields["architectures"] = {"FalconForCausalLM"};
  fields.erase("model_type");
  const std::string message = parse_error(fields);
  EXPECT_NE(message.find("model/config.json"), std::string::npos) << message;
  EXPECT_NE(message.find("FalconForCausalLM"), std::string::npos) << message;
  EXPECT_NE(message.find("LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
                         "Gemma3ForCausalLM, GPT2LMHeadModel"),
            std::string::npos)
      << message;
}

TEST(CausalLmConfig, ModelTypeContradictingArchitectureIsRejected) {
  json fields = llama_json();
  fields["model_type"] = "gpt2";
  EXPECT_NE(parse_error(fields).find("model_type"), std::string::npos);
}

TEST(CausalLmConfig, WrongFieldTypeNamesTheField) {
  json fields = llama_json();
  fields["hidden_size"] = "wide";
  EXPECT_EQ(parse_error(fields),
            "model/config.json: hidden_size: expected a whole number, got 'wide'");
}

// transformers keeps a quoted number a string (and the model then fails on it); ladle read it as the number.
TEST(CausalLmConfig, QuotedNumberIsAStringNotANumber) {
  json fields = llama_json();
  fields["hidden_size"] = "16";
  EXPECT_EQ(parse_error(fields), "model/config.json: hidden_size: expected a whole number, got '16' (quoted, so a "
                                 "string: write it without quotes)");
  fields = llama_json();
  fields["rms_norm_eps"] = "1e-5";
  EXPECT_NE(parse_error(fields).find("rms_norm_eps: expected a number, got '1e-5' (quoted"), std::string::npos);
}

TEST(CausalLmConfig, BooleanIsNotAnInteger) {
  json fields = llama_json();
  fields["num_hidden_layers"] = true;
  EXPECT_NE(parse_error(fields).find("num_hidden_layers: expected a whole number"), std::string::npos);
}

// Found by the causal_lm_config fuzz target: 60,000,000 layers passed the size bound and writing the config's
// layer_types back out ran out of memory. Layer counts have a bound of their own.
TEST(CausalLmConfig, LayerCountsBeyondTwoToTheSixteenAreRejected) {
  json fields = llama_json();
  fields["num_hidden_layers"] = 60000000;
  EXPECT_NE(parse_error(fields).find("num_hidden_layers: expected a whole number in [1, 65536]"), std::string::npos)
      << parse_error(fields);
  fields["num_hidden_layers"] = 65536;
  EXPECT_EQ(CausalLmConfig::from_json(fields, "model/config.json").num_hidden_layers, 65536);
}

TEST(CausalLmConfig, NonPositiveAndHugeSizesAreRejected) {
  for (const json& value : {json(0), json(-4), json(1.5), json(std::int64_t{1} << 40)}) {
    json fields = llama_json();
    fields["vocab_size"] = value;
    EXPECT_NE(parse_error(fields).find("vocab_size: expected a whole number in [1, 2147483648]"), std::string::npos)
        << value;
  }
}

TEST(CausalLmConfig, HiddenSizeNotDivisibleByHeadsIsRejected) {
  json fields = llama_json();
  fields["num_attention_heads"] = 6;
  fields["num_key_value_heads"] = 6;
  EXPECT_NE(parse_error(fields).find("not divisible by num_attention_heads"), std::string::npos);
}

TEST(CausalLmConfig, HeadsNotDivisibleByKeyValueHeadsIsRejected) {
  json fields = llama_json();
  fields["num_key_value_heads"] = 3;
  EXPECT_NE(parse_error(fields).find("not divisible by num_key_value_heads"), std::string::npos);
}

TEST(CausalLmConfig, UnsupportedSemanticsAreRefusedNotIgnored) {
  json rope = llama_json();
  rope["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 8.0}};
  EXPECT_NE(parse_error(rope).find("rope_scaling: rope type 'yarn' is not supported"), std::string::npos);
  json qwen = llama_json();
  qwen["architectures"] = {"Qwen2ForCausalLM"};
  qwen["model_type"] = "qwen2";
  qwen["use_sliding_window"] = true;
  EXPECT_NE(parse_error(qwen).find("use_sliding_window: true is not supported"), std::string::npos);
  json activation = llama_json();
  activation["hidden_act"] = "relu2";
  EXPECT_NE(parse_error(activation).find("hidden_act: expected one of"), std::string::npos);
}

TEST(CausalLmConfig, IncompleteLlama3RopeScalingNamesTheMissingKey) {
  json rope = llama_json();
  rope["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  EXPECT_EQ(parse_error(rope), "model/config.json: rope_scaling.low_freq_factor: a required key is missing");
}

TEST(CausalLmConfig, MissingShapeKeysAreErrorsNotDefaults) {
  for (const char* key :
       {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"}) {
    json fields = llama_json();
    fields.erase(key);
    EXPECT_EQ(parse_error(fields), "model/config.json: " + std::string(key) + ": a required key is missing");
  }
  json mistral = llama_json();
  mistral["architectures"] = {"MistralForCausalLM"};
  mistral["model_type"] = "mistral";
  mistral.erase("num_key_value_heads");  // MistralConfig would take 8, whatever num_attention_heads is
  EXPECT_EQ(parse_error(mistral), "model/config.json: num_key_value_heads: a required key is missing");
}

TEST(CausalLmConfig, NonObjectAndMissingArchitectureAreRejected) {
  EXPECT_NE(parse_error(json::array({1, 2})).find("expected a JSON object"), std::string::npos);
  EXPECT_NE(parse_error(json{{"hidden_size", 64}}).find("neither 'architectures' nor 'model_type'"), std::string::npos);
  EXPECT_NE(parse_error(json{{"architectures", json::array()}}).find("architectures: expected a non-empty list"),
            std::string::npos);
}

TEST(CausalLmConfig, ToJsonRoundTripsAndKeepsUninterpretedFields) {
  const CausalLmConfig config = CausalLmConfig::from_json(llama_json());
  const json written = config.to_json();
  EXPECT_EQ(written["bos_token_id"], 1);
  EXPECT_EQ(written["transformers_version"], "4.40.0");
  EXPECT_EQ(written["torch_dtype"], "float32");
  const CausalLmConfig reread = CausalLmConfig::from_json(written);
  EXPECT_EQ(reread.to_json(), written);
}

TEST(CausalLmConfig, Gpt2ToJsonUsesGpt2FieldNames) {
  CausalLmConfig config = CausalLmConfig::defaults_for("GPT2LMHeadModel");
  config.hidden_size = 48;
  config.intermediate_size = 192;
  const json written = config.to_json("bfloat16");
  EXPECT_EQ(written["model_type"], "gpt2");
  EXPECT_EQ(written["n_embd"], 48);
  EXPECT_EQ(written["n_layer"], 12);
  EXPECT_EQ(written["n_positions"], 1024);
  EXPECT_EQ(written["activation_function"], "gelu_new");
  EXPECT_EQ(written["torch_dtype"], "bfloat16");
  EXPECT_FALSE(written.contains("hidden_size"));
  EXPECT_EQ(CausalLmConfig::from_json(written).to_json("bfloat16"), written);
}

}  // namespace
}  // namespace ladle::model
