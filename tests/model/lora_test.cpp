// LoRA adapters: initialisation, frozen base, merging (Linear and GPT-2 Conv1D layouts), PEFT's file format.
#include "lib/model/lora.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/io/safetensors_reader.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/causal_lm_loss.h"
#include "lib/model/projection.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

CausalLmConfig tiny_llama() {
  CausalLmConfig config = CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                                     {"vocab_size", 50},
                                                     {"hidden_size", 32},
                                                     {"intermediate_size", 48},
                                                     {"num_hidden_layers", 2},
                                                     {"num_attention_heads", 4},
                                                     {"num_key_value_heads", 2}});
  config.initializer_range = 0.2;
  return config;
}

CausalLmConfig tiny_gpt2() {
  CausalLmConfig config = CausalLmConfig::from_json({{"architectures", {"GPT2LMHeadModel"}},
                                                     {"vocab_size", 50},
                                                     {"n_embd", 32},
                                                     {"n_layer", 2},
                                                     {"n_head", 4},
                                                     {"n_positions", 16}});
  config.initializer_range = 0.2;
  return config;
}

at::Tensor sample_ids() { return at::tensor({3, 14, 15, 9, 26, 5, 35, 8, 9, 7}, at::kLong).view({2, 5}); }

at::Tensor logits(CausalLm& model) {
  at::NoGradGuard no_grad;
  return model.forward(sample_ids()).logits;
}

// Gives every B a random value, as training would, so the adapters change the output.
void randomize_lora_b(CausalLm& model, std::uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (const auto& [name, projection] : model.named_projections()) {
    if (!projection->has_lora()) continue;
    projection->set_lora_weights(projection->lora_a(),
                                 at::empty(projection->lora_b().sizes()).normal_(0.0, 0.3, generator));
  }
}

LoraOptions options_for(std::vector<std::string> targets) {
  LoraOptions options;
  options.r = 4;
  options.alpha = 8;
  options.target_modules = std::move(targets);
  options.seed = 1;
  return options;
}

class LoraTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("lora"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(LoraTest, ZeroInitialisedBLeavesOutputUnchanged) {
  auto model = create_causal_lm(tiny_llama(), 1);
  const at::Tensor before = logits(*model);
  add_lora_adapters(*model, options_for({"q_proj", "v_proj"}));
  EXPECT_TRUE(at::equal(logits(*model), before));
}

TEST_F(LoraTest, AdaptsMatchingModulesWithKaimingUniformA) {
  auto model = create_causal_lm(tiny_llama(), 1);
  const auto adapted = add_lora_adapters(*model, options_for({"q_proj", "self_attn.v_proj"}));
  EXPECT_EQ(adapted, (std::vector<std::string>{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                               "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"}));
  for (const auto& [name, projection] : model->named_projections()) {
    if (!projection->has_lora()) continue;
    // kaiming_uniform_(a=√5) on [r, in]: U(−1/√in, 1/√in)
    const double bound = 1.0 / std::sqrt(32.0);
    EXPECT_LE(projection->lora_a().abs().max().item<double>(), bound) << name;
    EXPECT_GT(projection->lora_a().abs().max().item<double>(), 0.8 * bound) << name;
    EXPECT_TRUE(at::equal(projection->lora_b(), at::zeros_like(projection->lora_b()))) << name;
    EXPECT_DOUBLE_EQ(projection->lora_scaling(), 2.0) << name;
  }
}

TEST_F(LoraTest, OnlyAdapterParametersRequireGrad) {
  auto model = create_causal_lm(tiny_gpt2(), 2);
  add_lora_adapters(*model, options_for({"c_attn"}));
  int trainable = 0;
  for (const auto& parameter : model->named_parameters()) {
    const bool is_adapter = parameter.key().find(".lora_") != std::string::npos;
    EXPECT_EQ(parameter.value().requires_grad(), is_adapter) << parameter.key();
    trainable += parameter.value().requires_grad();
  }
  EXPECT_EQ(trainable, 4);  // A and B of two layers
  EXPECT_EQ(model->hf_state_dict().size(), create_causal_lm(tiny_gpt2(), 2)->hf_state_dict().size());
}

TEST_F(LoraTest, TrainingGradientReachesOnlyTheAdapters) {
  auto model = create_causal_lm(tiny_llama(), 3);
  add_lora_adapters(*model, options_for({"q_proj", "v_proj"}));
  model->train();
  causal_lm_loss(model->forward(sample_ids()).logits, sample_ids()).backward();
  for (const auto& parameter : model->named_parameters()) {
    const bool is_b = parameter.key().find(".lora_B.") != std::string::npos;
    const bool is_a = parameter.key().find(".lora_A.") != std::string::npos;
    EXPECT_EQ(parameter.value().grad().defined(), is_a || is_b) << parameter.key();
    // With B = 0 only B receives a non-zero gradient at the first step (∂/∂A carries a factor B).
    if (is_b) {
      EXPECT_GT(parameter.value().grad().abs().sum().item<double>(), 0) << parameter.key();
    }
  }
}

TEST_F(LoraTest, MergedLinearWeightsGiveTheAdapterModelsLogits) {
  auto model = create_causal_lm(tiny_llama(), 4);
  add_lora_adapters(*model, options_for({"q_proj", "v_proj", "down_proj", "lm_head"}));
  randomize_lora_b(*model, 5);
  const at::Tensor adapted = logits(*model);
  ASSERT_FALSE(at::allclose(adapted, logits(*create_causal_lm(tiny_llama(), 4)), 0, 1e-3));
  auto plain = create_causal_lm(tiny_llama(), 99);
  plain->load_hf_state_dict(merge_lora_into_base(model->hf_state_dict(), lora_adapter(*model)));
  EXPECT_TRUE(at::allclose(logits(*plain), adapted, 0, 1e-5));
}

TEST_F(LoraTest, MergedConv1DWeightsAreTransposedAndGiveTheAdapterModelsLogits) {
  auto model = create_causal_lm(tiny_gpt2(), 6);
  add_lora_adapters(*model, options_for({"c_attn", "c_proj", "c_fc"}));
  randomize_lora_b(*model, 7);
  const LoraAdapter adapter = lora_adapter(*model);
  EXPECT_TRUE(adapter.fan_in_fan_out);
  const NamedTensors merged = merge_lora_into_base(model->hf_state_dict(), adapter);
  // c_attn is [in, 3·out]; its update (B·A)ᵀ is [32, 96].
  const at::Tensor delta =
      merged.at("transformer.h.0.attn.c_attn.weight") - model->hf_state_dict().at("transformer.h.0.attn.c_attn.weight");
  const at::Tensor a = adapter.tensors.at("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight");
  const at::Tensor b = adapter.tensors.at("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight");
  EXPECT_TRUE(at::allclose(delta, at::matmul(b, a).t() * 2.0, 0, 1e-6));
  auto plain = create_causal_lm(tiny_gpt2(), 99);
  plain->load_hf_state_dict(merged);
  EXPECT_TRUE(at::allclose(logits(*plain), logits(*model), 0, 1e-5));
}

TEST_F(LoraTest, InPlaceMergeRemovesAdaptersAndKeepsLogits) {
  auto model = create_causal_lm(tiny_gpt2(), 8);
  add_lora_adapters(*model, options_for({"c_attn"}));
  randomize_lora_b(*model, 9);
  const at::Tensor adapted = logits(*model);
  merge_lora_into_base(*model);
  for (const auto& parameter : model->named_parameters()) {
    EXPECT_EQ(parameter.key().find(".lora_"), std::string::npos) << parameter.key();
  }
  EXPECT_TRUE(at::allclose(logits(*model), adapted, 0, 1e-5));
  save_causal_lm(*model, dir_ / "merged");  // a plain model again
}

TEST_F(LoraTest, SavesPeftNamesShapesAndConfig) {
  auto model = create_causal_lm(tiny_llama(), 10);
  add_lora_adapters(*model, options_for({"q_proj", "v_proj"}));
  save_lora_adapter(lora_adapter(*model, "ladle/tiny-llama"), dir_ / "adapter");
  const io::SafetensorsReader weights(dir_ / "adapter" / "adapter_model.safetensors");
  EXPECT_EQ(weights.entries().size(), 8u);
  EXPECT_EQ(weights.entry("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").shape,
            (std::vector<std::int64_t>{4, 32}));
  EXPECT_EQ(weights.entry("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight").shape,
            (std::vector<std::int64_t>{16, 4}));  // v_proj out = 2 kv heads · 8
  json config;
  std::ifstream(dir_ / "adapter" / "adapter_config.json") >> config;
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["task_type"], "CAUSAL_LM");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 8);
  EXPECT_EQ(config["lora_dropout"], 0.0);
  EXPECT_EQ(config["bias"], "none");
  EXPECT_EQ(config["fan_in_fan_out"], false);
  EXPECT_EQ(config["target_modules"], json({"q_proj", "v_proj"}));
  EXPECT_EQ(config["base_model_name_or_path"], "ladle/tiny-llama");
}

TEST_F(LoraTest, Gpt2AdapterUsesTransformerPrefixAndFanInFanOut) {
  auto model = create_causal_lm(tiny_gpt2(), 11);
  add_lora_adapters(*model, options_for({"c_attn"}));
  save_lora_adapter(lora_adapter(*model), dir_ / "adapter");
  const io::SafetensorsReader weights(dir_ / "adapter" / "adapter_model.safetensors");
  EXPECT_EQ(weights.entry("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight").shape,
            (std::vector<std::int64_t>{4, 32}));
  EXPECT_EQ(weights.entry("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight").shape,
            (std::vector<std::int64_t>{96, 4}));
  json config;
  std::ifstream(dir_ / "adapter" / "adapter_config.json") >> config;
  EXPECT_EQ(config["fan_in_fan_out"], true);
}

TEST_F(LoraTest, PeftFolderRoundTripsIntoAFreshModel) {
  auto model = create_causal_lm(tiny_llama(), 12);
  LoraOptions options = options_for({"q_proj", "k_proj", "gate_proj"});
  options.alpha = 12;
  options.dropout = 0.05;
  add_lora_adapters(*model, options);
  randomize_lora_b(*model, 13);
  const LoraAdapter saved = lora_adapter(*model, "base");
  save_lora_adapter(saved, dir_ / "adapter");
  const LoraAdapter read = read_lora_adapter(dir_ / "adapter");
  EXPECT_EQ(read.options.r, 4);
  EXPECT_DOUBLE_EQ(read.options.alpha, 12);
  EXPECT_DOUBLE_EQ(read.options.dropout, 0.05);
  EXPECT_EQ(read.options.target_modules, options.target_modules);
  EXPECT_EQ(read.base_model_name_or_path, "base");
  ASSERT_EQ(read.tensors.names(), saved.tensors.names());
  for (const auto& [name, tensor] : saved.tensors) EXPECT_TRUE(at::equal(read.tensors.at(name), tensor)) << name;

  auto fresh = create_causal_lm(tiny_llama(), 12);
  load_lora_adapter(*fresh, read);
  EXPECT_TRUE(at::equal(logits(*fresh), logits(*model)));
}

TEST_F(LoraTest, TargetMatchingNoDenseLayerIsRejected) {
  auto model = create_causal_lm(tiny_llama(), 14);
  EXPECT_THROW(add_lora_adapters(*model, options_for({"q_proj", "qkv_proj"})), Error);
  EXPECT_THROW(add_lora_adapters(*model, options_for({"embed_tokens"})), Error);
  for (const auto& parameter : model->parameters()) EXPECT_TRUE(parameter.requires_grad());
}

TEST_F(LoraTest, AdapterWithMissingTensorIsRejectedAndRemoved) {
  auto model = create_causal_lm(tiny_llama(), 15);
  add_lora_adapters(*model, options_for({"q_proj"}));
  LoraAdapter adapter = lora_adapter(*model);
  NamedTensors partial;
  for (const auto& [name, tensor] : adapter.tensors) {
    if (name != "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight") partial.insert(name, tensor);
  }
  adapter.tensors = partial;
  auto fresh = create_causal_lm(tiny_llama(), 15);
  try {
    load_lora_adapter(*fresh, adapter);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight'"),
              std::string::npos)
        << e.what();
  }
  for (const auto& [name, projection] : fresh->named_projections()) EXPECT_FALSE(projection->has_lora()) << name;
  for (const auto& parameter : fresh->parameters()) EXPECT_TRUE(parameter.requires_grad());
}

TEST_F(LoraTest, UnsupportedPeftOptionsAreRefused) {
  auto model = create_causal_lm(tiny_llama(), 16);
  add_lora_adapters(*model, options_for({"q_proj"}));
  save_lora_adapter(lora_adapter(*model), dir_ / "adapter");
  json config;
  std::ifstream(dir_ / "adapter" / "adapter_config.json") >> config;
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{{"use_dora", true},
                                                                              {"bias", "all"},
                                                                              {"target_modules", ".*proj"},
                                                                              {"peft_type", "IA3"},
                                                                              {"rank_pattern", {{"q_proj", 0}}},
                                                                              {"r", 0}}) {
    json changed = config;
    changed[field] = value;
    std::ofstream(dir_ / "adapter" / "adapter_config.json") << changed.dump();
    try {
      read_lora_adapter(dir_ / "adapter");
      ADD_FAILURE() << field << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + field + "'"), std::string::npos) << e.what();
    }
  }
}

// `ladle merge lora` applies these (tests/merge/lora_peft_options_test.cpp); a live model cannot.
TEST_F(LoraTest, OptionsOnlyTheMergeAppliesAreRefusedWhenLoading) {
  auto model = create_causal_lm(tiny_llama(), 16);
  add_lora_adapters(*model, options_for({"q_proj"}));
  save_lora_adapter(lora_adapter(*model), dir_ / "adapter");
  json config;
  std::ifstream(dir_ / "adapter" / "adapter_config.json") >> config;
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"use_rslora", true}, {"rank_pattern", {{"q_proj", 8}}}, {"alpha_pattern", {{"q_proj", 4}}},
           {"modules_to_save", {"lm_head"}}, {"lora_bias", true}}) {
    json changed = config;
    changed[field] = value;
    std::ofstream(dir_ / "adapter" / "adapter_config.json") << changed.dump();
    const LoraAdapter read = read_lora_adapter(dir_ / "adapter");
    auto fresh = create_causal_lm(tiny_llama(), 16);
    try {
      load_lora_adapter(*fresh, read);
      ADD_FAILURE() << field << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + field + "'"), std::string::npos) << e.what();
    }
  }
}

TEST_F(LoraTest, SavingTheModelWithAdaptersAsPlainWeightsIsRefused) {
  auto model = create_causal_lm(tiny_llama(), 17);
  add_lora_adapters(*model, options_for({"v_proj"}));
  EXPECT_THROW(save_causal_lm(*model, dir_ / "model"), Error);
  EXPECT_FALSE(fs::exists(dir_ / "model"));
}

}  // namespace
}  // namespace ladle::model
