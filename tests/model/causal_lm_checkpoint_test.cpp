// Hugging Face layout: names and shapes of hf_state_dict, save/load round trips, and the errors of loading
// checkpoints that do not match.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/io/checkpoint_writer.h"
#include "lib/io/safetensors_writer.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

CausalLmConfig tiny_llama(bool tied) {
  return CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                    {"vocab_size", 40},
                                    {"hidden_size", 32},
                                    {"intermediate_size", 48},
                                    {"num_hidden_layers", 2},
                                    {"num_attention_heads", 4},
                                    {"num_key_value_heads", 2},
                                    {"max_position_embeddings", 32},
                                    {"tie_word_embeddings", tied}});
}

CausalLmConfig tiny_gpt2() {
  return CausalLmConfig::from_json({{"architectures", {"GPT2LMHeadModel"}},
                                    {"vocab_size", 40},
                                    {"n_embd", 32},
                                    {"n_layer", 2},
                                    {"n_head", 4},
                                    {"n_positions", 32}});
}

class CausalLmCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("checkpoint"); }
  void TearDown() override { fs::remove_all(dir_); }

  // The message of the ladle::Error that loading `path` throws ("" when it loads).
  static std::string load_error(const fs::path& path) {
    try {
      load_causal_lm(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

at::Tensor logits(CausalLm& model) {
  at::NoGradGuard no_grad;
  return model.forward(at::tensor({3, 1, 4, 1, 5, 9, 2, 6, 5, 3}, at::kLong).view({2, 5})).logits;
}

void expect_same_tensors(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.names(), b.names());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(at::equal(tensor, b.at(name))) << name;
}

TEST_F(CausalLmCheckpointTest, LlamaStateDictHasHuggingFaceNamesAndShapes) {
  const NamedTensors untied = create_causal_lm(tiny_llama(/*tied=*/false), 0)->hf_state_dict();
  const std::vector<std::string> first_layer = {
      "model.layers.0.self_attn.q_proj.weight",        "model.layers.0.self_attn.k_proj.weight",
      "model.layers.0.self_attn.v_proj.weight",        "model.layers.0.self_attn.o_proj.weight",
      "model.layers.0.mlp.gate_proj.weight",           "model.layers.0.mlp.up_proj.weight",
      "model.layers.0.mlp.down_proj.weight",           "model.layers.0.input_layernorm.weight",
      "model.layers.0.post_attention_layernorm.weight"};
  const auto names = untied.names();
  ASSERT_EQ(names.size(), 1 + 2 * first_layer.size() + 2);
  EXPECT_EQ(names.front(), "model.embed_tokens.weight");
  EXPECT_EQ(std::vector<std::string>(names.begin() + 1, names.begin() + 10), first_layer);
  EXPECT_EQ(names[names.size() - 2], "model.norm.weight");
  EXPECT_EQ(names.back(), "lm_head.weight");
  EXPECT_EQ(untied.at("model.layers.1.self_attn.q_proj.weight").sizes(), at::IntArrayRef({32, 32}));
  EXPECT_EQ(untied.at("model.layers.1.self_attn.k_proj.weight").sizes(), at::IntArrayRef({16, 32}));  // 2 kv heads
  EXPECT_EQ(untied.at("model.layers.1.mlp.down_proj.weight").sizes(), at::IntArrayRef({32, 48}));
  EXPECT_EQ(untied.at("lm_head.weight").sizes(), at::IntArrayRef({40, 32}));
  EXPECT_FALSE(create_causal_lm(tiny_llama(/*tied=*/true), 0)->hf_state_dict().contains("lm_head.weight"));
}

TEST_F(CausalLmCheckpointTest, Gpt2StateDictHasConv1DLayoutAndNoLmHeadWhenTied) {
  const NamedTensors tensors = create_causal_lm(tiny_gpt2(), 0)->hf_state_dict();
  const std::vector<std::string> expected_start = {"transformer.wte.weight",
                                                   "transformer.wpe.weight",
                                                   "transformer.h.0.ln_1.weight",
                                                   "transformer.h.0.ln_1.bias",
                                                   "transformer.h.0.attn.c_attn.weight",
                                                   "transformer.h.0.attn.c_attn.bias",
                                                   "transformer.h.0.attn.c_proj.weight",
                                                   "transformer.h.0.attn.c_proj.bias",
                                                   "transformer.h.0.ln_2.weight",
                                                   "transformer.h.0.ln_2.bias",
                                                   "transformer.h.0.mlp.c_fc.weight",
                                                   "transformer.h.0.mlp.c_fc.bias",
                                                   "transformer.h.0.mlp.c_proj.weight",
                                                   "transformer.h.0.mlp.c_proj.bias"};
  const auto names = tensors.names();
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 14), expected_start);
  EXPECT_EQ(names.back(), "transformer.ln_f.bias");
  EXPECT_FALSE(tensors.contains("lm_head.weight"));
  EXPECT_EQ(tensors.at("transformer.h.1.attn.c_attn.weight").sizes(), at::IntArrayRef({32, 96}));  // [in, 3·out]
  EXPECT_EQ(tensors.at("transformer.h.1.mlp.c_fc.weight").sizes(), at::IntArrayRef({32, 128}));
  EXPECT_EQ(tensors.at("transformer.h.1.mlp.c_proj.weight").sizes(), at::IntArrayRef({128, 32}));
  EXPECT_EQ(tensors.at("transformer.wpe.weight").sizes(), at::IntArrayRef({32, 32}));
}

TEST_F(CausalLmCheckpointTest, CreationIsSeededAndInitialisesLikeHuggingFace) {
  const auto a = create_causal_lm(tiny_gpt2(), 7), b = create_causal_lm(tiny_gpt2(), 7);
  expect_same_tensors(a->hf_state_dict(), b->hf_state_dict());
  EXPECT_FALSE(at::equal(a->hf_state_dict().at("transformer.wte.weight"),
                         create_causal_lm(tiny_gpt2(), 8)->hf_state_dict().at("transformer.wte.weight")));
  const NamedTensors tensors = a->hf_state_dict();
  EXPECT_TRUE(at::equal(tensors.at("transformer.h.0.ln_1.weight"), at::ones({32})));
  EXPECT_TRUE(at::equal(tensors.at("transformer.h.0.attn.c_attn.bias"), at::zeros({96})));
  EXPECT_NEAR(tensors.at("transformer.h.0.mlp.c_fc.weight").std().item<double>(), 0.02, 0.002);
  // GPT-2's residual projections: 0.02 / sqrt(2 · n_layer)
  EXPECT_NEAR(tensors.at("transformer.h.0.mlp.c_proj.weight").std().item<double>(), 0.01, 0.001);
  EXPECT_FALSE(a->is_training());
}

TEST_F(CausalLmCheckpointTest, LlamaRoundTripKeepsTensorsAndLogits) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/false), 1);
  save_causal_lm(*model, dir_ / "llama");
  EXPECT_TRUE(fs::is_regular_file(dir_ / "llama" / "config.json"));
  EXPECT_TRUE(fs::is_regular_file(dir_ / "llama" / "model.safetensors"));
  auto loaded = load_causal_lm(dir_ / "llama");
  EXPECT_EQ(loaded->config().to_json(), model->config().to_json());
  expect_same_tensors(loaded->hf_state_dict(), model->hf_state_dict());
  EXPECT_TRUE(at::equal(logits(*loaded), logits(*model)));
}

TEST_F(CausalLmCheckpointTest, Gpt2ShardedRoundTripKeepsTensorsAndLogits) {
  auto model = create_causal_lm(tiny_gpt2(), 2);
  io::CheckpointWriteOptions options;
  options.max_shard_bytes = 16 * 1024;
  save_causal_lm(*model, dir_ / "gpt2", options);
  EXPECT_TRUE(fs::is_regular_file(dir_ / "gpt2" / "model.safetensors.index.json"));
  auto loaded = load_causal_lm(dir_ / "gpt2");
  expect_same_tensors(loaded->hf_state_dict(), model->hf_state_dict());
  EXPECT_TRUE(at::equal(logits(*loaded), logits(*model)));
}

TEST_F(CausalLmCheckpointTest, Bf16CheckpointLoadsIntoFp32Parameters) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/true), 3);
  NamedTensors bf16;
  for (const auto& [name, tensor] : model->hf_state_dict()) bf16.insert(name, tensor.to(at::kBFloat16));
  io::save_checkpoint(dir_ / "bf16", bf16, model->config().to_json("bfloat16"));
  auto loaded = load_causal_lm(dir_ / "bf16");
  EXPECT_EQ(loaded->parameter_dtype(), at::kFloat);
  for (const auto& [name, tensor] : loaded->hf_state_dict()) {
    EXPECT_TRUE(at::equal(tensor, bf16.at(name).to(at::kFloat))) << name;
  }
}

TEST_F(CausalLmCheckpointTest, SingleSafetensorsFileLoadsWithConfigBesideIt) {
  auto model = create_causal_lm(tiny_gpt2(), 4);
  fs::create_directories(dir_ / "flat");
  io::write_safetensors(dir_ / "flat" / "weights.safetensors", model->hf_state_dict());
  EXPECT_NE(load_error(dir_ / "flat" / "weights.safetensors").find("no config.json"), std::string::npos);
  std::ofstream(dir_ / "flat" / "config.json") << model->config().to_json().dump();
  auto loaded = load_causal_lm(dir_ / "flat" / "weights.safetensors");
  expect_same_tensors(loaded->hf_state_dict(), model->hf_state_dict());
}

TEST_F(CausalLmCheckpointTest, MissingTensorIsNamed) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/false), 5);
  NamedTensors tensors;
  for (const auto& [name, tensor] : model->hf_state_dict()) {
    if (name != "model.layers.1.mlp.up_proj.weight") tensors.insert(name, tensor);
  }
  io::save_checkpoint(dir_ / "missing", tensors, model->config().to_json());
  const std::string message = load_error(dir_ / "missing");
  EXPECT_NE(message.find("missing 'model.layers.1.mlp.up_proj.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find((dir_ / "missing").string()), std::string::npos) << message;
}

TEST_F(CausalLmCheckpointTest, UnexpectedTensorIsNamed) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/true), 6);
  NamedTensors tensors = model->hf_state_dict();
  tensors.insert("model.layers.0.self_attn.q_norm.weight", at::ones({8}));
  io::save_checkpoint(dir_ / "extra", tensors, model->config().to_json());
  const std::string message = load_error(dir_ / "extra");
  EXPECT_NE(message.find("unexpected 'model.layers.0.self_attn.q_norm.weight'"), std::string::npos) << message;
}

TEST_F(CausalLmCheckpointTest, WrongShapeIsNamedWithBothShapes) {
  auto model = create_causal_lm(tiny_gpt2(), 7);
  NamedTensors tensors = model->hf_state_dict();
  // An nn.Linear-layout [out, in] weight where GPT-2's Conv1D stores [in, out].
  tensors.at("transformer.h.0.attn.c_attn.weight") = tensors.at("transformer.h.0.attn.c_attn.weight").t().contiguous();
  io::save_checkpoint(dir_ / "shape", tensors, model->config().to_json());
  const std::string message = load_error(dir_ / "shape");
  EXPECT_NE(message.find("'transformer.h.0.attn.c_attn.weight' has shape [96, 32], expected [32, 96]"),
            std::string::npos)
      << message;
}

TEST_F(CausalLmCheckpointTest, UnknownArchitectureIsRejected) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/true), 8);
  json config = model->config().to_json();
  config["architectures"] = {"MambaForCausalLM"};
  config["model_type"] = "mamba";
  io::save_checkpoint(dir_ / "mamba", model->hf_state_dict(), config);
  const std::string message = load_error(dir_ / "mamba");
  EXPECT_NE(message.find("'MambaForCausalLM' is not supported"), std::string::npos) << message;
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
}

TEST_F(CausalLmCheckpointTest, FolderWithoutConfigIsRejected) {
  io::save_checkpoint(dir_ / "no-config", create_causal_lm(tiny_gpt2(), 9)->hf_state_dict());
  EXPECT_NE(load_error(dir_ / "no-config").find("no config.json"), std::string::npos);
}

TEST_F(CausalLmCheckpointTest, Gpt2BuffersAndUnprefixedNamesLoad) {
  // The layout of the original "gpt2" checkpoint: saved from GPT2Model, with the causal-mask buffers.
  auto model = create_causal_lm(tiny_gpt2(), 10);
  NamedTensors tensors;
  for (const auto& [name, tensor] : model->hf_state_dict())
    tensors.insert(name.substr(std::string("transformer.").size()), tensor);
  for (int layer = 0; layer < 2; ++layer) {
    tensors.insert("h." + std::to_string(layer) + ".attn.bias", at::ones({1, 1, 32, 32}).tril());
    tensors.insert("h." + std::to_string(layer) + ".attn.masked_bias", at::tensor(-1e4));
  }
  io::save_checkpoint(dir_ / "gpt2-base", tensors, model->config().to_json());
  auto loaded = load_causal_lm(dir_ / "gpt2-base");
  expect_same_tensors(loaded->hf_state_dict(), model->hf_state_dict());
}

TEST_F(CausalLmCheckpointTest, TiedLmHeadInCheckpointMustEqualTheEmbedding) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/true), 11);
  NamedTensors tensors = model->hf_state_dict();
  tensors.insert("lm_head.weight", tensors.at("model.embed_tokens.weight").clone());
  io::save_checkpoint(dir_ / "tied-copy", tensors, model->config().to_json());
  EXPECT_EQ(load_error(dir_ / "tied-copy"), "");
  tensors.at("lm_head.weight") = tensors.at("lm_head.weight") + 1;
  io::save_checkpoint(dir_ / "tied-different", tensors, model->config().to_json());
  EXPECT_NE(load_error(dir_ / "tied-different").find("lm_head.weight differs from model.embed_tokens.weight"),
            std::string::npos);
}

TEST_F(CausalLmCheckpointTest, FailedLoadLeavesParametersUnchanged) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/true), 12);
  const NamedTensors before = create_causal_lm(tiny_llama(/*tied=*/true), 12)->hf_state_dict();
  NamedTensors other = create_causal_lm(tiny_llama(/*tied=*/true), 13)->hf_state_dict();
  other.insert("model.unexpected.weight", at::ones({2}));
  EXPECT_THROW(model->load_hf_state_dict(other), Error);
  expect_same_tensors(model->hf_state_dict(), before);
}

}  // namespace
}  // namespace ladle::model
