// The config.json files of current models, as their Hugging Face repositories publish them (Qwen/Qwen3-0.6B,
// meta-llama/Llama-3.2-1B, google/gemma-3-1b-it, HuggingFaceTB/SmolLM2-135M): read from a file, every shape and
// feature where the model card says, written back with the keys transformers reads, and errors naming the file,
// line and key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "lib/model/causal_lm_config.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ladle::testing::contains;
using ladle::testing::error_message;

constexpr const char* kQwen3_0_6B = R"({
  "architectures": [
    "Qwen3ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 1024,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "max_position_embeddings": 40960,
  "max_window_layers": 28,
  "model_type": "qwen3",
  "num_attention_heads": 16,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}
)";

constexpr const char* kLlama3_2_1B = R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
)";

constexpr const char* kGemma3_1B_It = R"({
  "architectures": [
    "Gemma3ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "attn_logit_softcapping": null,
  "bos_token_id": 2,
  "cache_implementation": "hybrid",
  "eos_token_id": [
    1,
    106
  ],
  "final_logit_softcapping": null,
  "head_dim": 256,
  "hidden_activation": "gelu_pytorch_tanh",
  "hidden_size": 1152,
  "initializer_range": 0.02,
  "intermediate_size": 6912,
  "max_position_embeddings": 32768,
  "model_type": "gemma3_text",
  "num_attention_heads": 4,
  "num_hidden_layers": 26,
  "num_key_value_heads": 1,
  "pad_token_id": 0,
  "query_pre_attn_scalar": 256,
  "rms_norm_eps": 1e-06,
  "rope_local_base_freq": 10000,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": 512,
  "sliding_window_pattern": 6,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.50.0.dev0",
  "use_cache": true,
  "vocab_size": 262144
}
)";

constexpr const char* kSmolLm2_135M = R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 0,
  "eos_token_id": 0,
  "hidden_act": "silu",
  "hidden_size": 576,
  "initializer_range": 0.041666666666666664,
  "intermediate_size": 1536,
  "is_llama_config": true,
  "max_position_embeddings": 8192,
  "model_type": "llama",
  "num_attention_heads": 9,
  "num_hidden_layers": 30,
  "num_key_value_heads": 3,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_interleaved": false,
  "rope_scaling": null,
  "rope_theta": 100000,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.42.3",
  "use_cache": true,
  "vocab_size": 49152
}
)";

class RealModelConfigs : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("configs"); }
  void TearDown() override { fs::remove_all(dir_); }

  // `text` as <temp>/<name>/config.json.
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path folder = dir_ / name;
    fs::create_directories(folder);
    std::ofstream(folder / "config.json") << text;
    return folder / "config.json";
  }

  // `text` with the line holding `"<key>":` replaced by `"<key>": <value>` (value "" removes the line).
  static std::string with_line(const std::string& text, const std::string& key, const std::string& value) {
    const auto start = text.find("\"" + key + "\":");
    const auto end = text.find('\n', start);
    const std::string comma = text[end - 1] == ',' ? "," : "";
    return text.substr(0, start) + (value.empty() ? "" : "\"" + key + "\": " + value + comma) +
           text.substr(value.empty() ? end + 1 : end);
  }

  // Written by to_json and read again, the config gives the same JSON (nothing lost, nothing changed).
  static void expect_round_trip(const CausalLmConfig& config) {
    const json written = config.to_json("bfloat16");
    EXPECT_EQ(CausalLmConfig::from_json(written).to_json("bfloat16"), written);
  }

  fs::path dir_;
};

TEST_F(RealModelConfigs, Qwen3_0_6BLoadsWithQueryKeyNormsAndWideHeads) {
  const CausalLmConfig config = CausalLmConfig::from_file(write("qwen3", kQwen3_0_6B));
  EXPECT_EQ(config.family, CausalLmFamily::llama);
  EXPECT_EQ(config.model_type, "qwen3");
  EXPECT_TRUE(config.has_query_key_norm());
  EXPECT_EQ(config.attention_head_dim(), 128);  // 16 heads of 128 = 2048, twice hidden_size
  EXPECT_EQ(config.key_value_heads(), 8);
  EXPECT_EQ(config.num_hidden_layers, 28);
  EXPECT_EQ(config.vocab_size, 151936);
  EXPECT_FALSE(config.attention_qkv_bias);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);
  EXPECT_EQ(config.eos_token_ids, std::vector<std::int64_t>{151645});
  EXPECT_EQ(config.extra_fields["max_window_layers"], 28);
  const json written = config.to_json("bfloat16");
  EXPECT_EQ(written["head_dim"], 128);
  EXPECT_EQ(written["use_sliding_window"], false);
  expect_round_trip(config);
}

TEST_F(RealModelConfigs, Llama3_2_1BLoadsWithLlama3RopeScaling) {
  const CausalLmConfig config = CausalLmConfig::from_file(write("llama", kLlama3_2_1B));
  EXPECT_EQ(config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(config.hidden_size, 2048);
  EXPECT_EQ(config.attention_head_dim(), 64);
  EXPECT_EQ(config.key_value_heads(), 8);
  ASSERT_TRUE(config.rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(config.rope_scaling->factor, 32.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling->low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config.rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(config.rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(config.extra_fields["bos_token_id"], 128000);
  const json written = config.to_json("bfloat16");
  EXPECT_EQ(written["rope_scaling"]["rope_type"], "llama3");
  EXPECT_EQ(written["rope_scaling"]["factor"], 32.0);
  expect_round_trip(config);
}

TEST_F(RealModelConfigs, Gemma3_1BItLoadsWithFiveSlidingLayersPerGlobalOne) {
  const CausalLmConfig config = CausalLmConfig::from_file(write("gemma", kGemma3_1B_It));
  EXPECT_EQ(config.family, CausalLmFamily::gemma3);
  EXPECT_EQ(config.attention_head_dim(), 256);
  EXPECT_EQ(config.key_value_heads(), 1);
  EXPECT_EQ(config.hidden_act, Activation::gelu_tanh);
  EXPECT_TRUE(config.tie_word_embeddings);  // Gemma3TextConfig's default: the file does not say
  EXPECT_EQ(config.sliding_window, 512);
  EXPECT_DOUBLE_EQ(config.attention_scale(), 1.0 / 16.0);  // query_pre_attn_scalar 256
  EXPECT_FALSE(config.final_logit_softcapping.has_value());
  EXPECT_EQ(config.eos_token_ids, (std::vector<std::int64_t>{1, 106}));
  for (std::int64_t layer = 0; layer < 26; ++layer) {
    EXPECT_EQ(config.is_sliding_layer(layer), layer % 6 != 5) << layer;  // global: 5, 11, 17, 23
  }
  const json written = config.to_json("bfloat16");
  EXPECT_EQ(written["hidden_activation"], "gelu_pytorch_tanh");
  EXPECT_EQ(written["layer_types"][5], "full_attention");
  EXPECT_EQ(written["layer_types"][6], "sliding_attention");
  EXPECT_EQ(written["sliding_window_pattern"], 6);
  EXPECT_EQ(written["cache_implementation"], "hybrid");
  expect_round_trip(config);
}

TEST_F(RealModelConfigs, SmolLm2_135MLoadsAsALlama) {
  const CausalLmConfig config = CausalLmConfig::from_file(write("smollm", kSmolLm2_135M));
  EXPECT_EQ(config.family, CausalLmFamily::llama);
  EXPECT_EQ(config.hidden_size, 576);
  EXPECT_EQ(config.attention_head_dim(), 64);  // 576 / 9
  EXPECT_EQ(config.key_value_heads(), 3);
  EXPECT_EQ(config.num_hidden_layers, 30);
  EXPECT_DOUBLE_EQ(config.initializer_range, 0.041666666666666664);
  EXPECT_FALSE(config.rope_scaling.has_value());
  EXPECT_EQ(config.extra_fields["rope_interleaved"], false);
  expect_round_trip(config);
}

TEST_F(RealModelConfigs, MissingShapeKeyNamesTheFile) {
  const fs::path path = write("no-hidden", with_line(kQwen3_0_6B, "hidden_size", ""));
  EXPECT_EQ(error_message([&] { CausalLmConfig::from_file(path); }),
            path.string() + ": hidden_size: a required key is missing");
  const fs::path gemma = write("no-head-dim", with_line(kGemma3_1B_It, "head_dim", ""));
  EXPECT_EQ(error_message([&] { CausalLmConfig::from_file(gemma); }),
            gemma.string() + ": head_dim: a required key is missing");
}

TEST_F(RealModelConfigs, BadValueNamesFileLineAndKey) {
  const fs::path path = write("bad", with_line(kLlama3_2_1B, "num_hidden_layers", "-16"));
  EXPECT_EQ(error_message([&] { CausalLmConfig::from_file(path); }),
            path.string() + ":18: num_hidden_layers: expected a whole number in [1, 65536], got -16");
}

TEST_F(RealModelConfigs, UnsupportedFeaturesAreRefusedByName) {
  const fs::path yarn =
      write("yarn", with_line(kQwen3_0_6B, "rope_scaling", R"({"rope_type": "yarn", "factor": 4.0})"));
  const std::string yarn_error = error_message([&] { CausalLmConfig::from_file(yarn); });
  EXPECT_TRUE(contains(yarn_error, yarn.string() + ":21: rope_scaling: rope type 'yarn' is not supported"))
      << yarn_error;
  const fs::path window = write("window", with_line(kQwen3_0_6B, "use_sliding_window", "true"));
  EXPECT_TRUE(contains(error_message([&] { CausalLmConfig::from_file(window); }),
                       ":28: use_sliding_window: true is not supported"));
  const fs::path bidirectional =
      write("bidirectional", with_line(kGemma3_1B_It, "use_cache", "true,\n  \"use_bidirectional_attention\": true"));
  EXPECT_TRUE(contains(error_message([&] { CausalLmConfig::from_file(bidirectional); }),
                       "use_bidirectional_attention: true is not supported"));
  const fs::path linear =
      write("linear", with_line(kGemma3_1B_It, "rope_scaling", R"({"rope_type": "linear", "factor": 8.0})"));
  EXPECT_TRUE(
      contains(error_message([&] { CausalLmConfig::from_file(linear); }), "rope type 'linear' is not supported"));
}

TEST_F(RealModelConfigs, GemmaLayerTypesMustCoverEveryLayer) {
  const fs::path path = write("types", with_line(kGemma3_1B_It, "sliding_window_pattern",
                                                 R"(6, "layer_types": ["sliding_attention", "full_attention"])"));
  EXPECT_TRUE(
      contains(error_message([&] { CausalLmConfig::from_file(path); }), "layer_types has 2 entries for 26 layers"));
}

}  // namespace
}  // namespace ladle::model
