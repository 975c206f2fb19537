// ladle's forward pass against tests/tools/reference_causal_lm.py, an independent float64 PyTorch implementation
// of the Hugging Face modeling equations that reads the checkpoint (and LoRA adapter) ladle saved: logits and
// hidden states of one full pass, and logits fed through the KV cache piece by piece, for every family.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/io/checkpoint_writer.h"
#include "lib/io/safetensors_reader.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/lora.h"
#include "lib/model/projection.h"
#include "tests/support/command_runner.h"

namespace ladle::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr double kTolerance = 1e-4;

struct Case {
  std::vector<std::vector<std::int64_t>> input_ids;
  std::vector<std::vector<std::int64_t>> attention_mask;  // empty: no mask
};

// Every parameter random (norm weights around 1), so that biases and norms are exercised too.
void randomize_parameters(CausalLm& model, std::uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : model.hf_state_dict()) {
    const at::Tensor noise = at::empty(tensor.sizes(), at::kFloat).normal_(0.0, 0.15, generator);
    const bool is_norm = name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos;
    tensor.copy_(is_norm && name.find(".weight") != std::string::npos ? noise + 1.0 : noise);
  }
}

at::Tensor to_tensor(const std::vector<std::vector<std::int64_t>>& rows) {
  std::vector<std::int64_t> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  return at::tensor(flat, at::kLong).view({static_cast<std::int64_t>(rows.size()), -1});
}

// An unpadded batch, and a batch mixing left padding, right padding and no padding.
std::vector<Case> test_cases() {
  return {
      {{{5, 17, 3, 88, 41, 9, 60}, {2, 2, 71, 30, 12, 95, 1}}, {}},
      {{{0, 0, 0, 44, 7, 19, 82, 23}, {11, 64, 5, 38, 90, 2, 0, 0}, {3, 14, 15, 92, 65, 35, 89, 79}},
       {{0, 0, 0, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 1, 1, 1, 1}}},
  };
}

// The largest |ladle − reference| over the real tokens (mask 1) of `actual` and `expected` [batch, seq, n].
double max_difference(const at::Tensor& actual, const at::Tensor& expected, const at::Tensor& real) {
  return ((actual - expected) * real).abs().max().item<double>();
}

// The logits of the case fed through a KV cache in pieces, as generation feeds it: the first three positions,
// then one position per call.
at::Tensor cached_logits(CausalLm& model, const at::Tensor& ids, const at::Tensor& mask) {
  at::NoGradGuard no_grad;
  KvCache cache;
  std::vector<at::Tensor> pieces;
  for (std::int64_t start = 0; start < ids.size(1);) {
    const std::int64_t length = start == 0 ? std::min<std::int64_t>(3, ids.size(1)) : 1;
    ForwardOptions options;
    options.cache = &cache;
    if (mask.defined()) options.attention_mask = mask.narrow(1, start, length);
    pieces.push_back(model.forward(ids.narrow(1, start, length), options).logits);
    start += length;
  }
  return at::cat(pieces, 1);
}

// Saves the model (with its LoRA adapter as a PEFT folder beside it, when it has one), runs the reference on the
// cases and checks logits and hidden states at every real token, for one full pass and for the cached pieces.
void expect_matches_reference(CausalLm& model, const io::CheckpointWriteOptions& write_options = {}) {
  const fs::path dir = ladle::testing::make_temp_dir("reference");
  std::vector<std::string> arguments = {std::string(LADLE_SOURCE_DIR) + "/tests/tools/reference_causal_lm.py",
                                        (dir / "model").string(), (dir / "input.json").string(),
                                        (dir / "reference.safetensors").string()};
  const auto projections = model.named_projections();
  const bool adapted =
      std::any_of(projections.begin(), projections.end(), [](const auto& entry) { return entry.second->has_lora(); });
  // The base weights alone: save_causal_lm refuses a model with adapters, which hf_state_dict leaves out.
  io::save_checkpoint(dir / "model", model.hf_state_dict(), model.config().to_json(), write_options);
  if (adapted) {
    save_lora_adapter(lora_adapter(model), dir / "adapter");
    arguments.push_back((dir / "adapter").string());
  }
  json input = {{"cases", json::array()}};
  for (const auto& c : test_cases()) {
    json entry = {{"input_ids", c.input_ids}};
    if (!c.attention_mask.empty()) entry["attention_mask"] = c.attention_mask;
    input["cases"].push_back(entry);
  }
  std::ofstream(dir / "input.json") << input.dump();
  const auto result = ladle::testing::run_command(ladle::testing::python_program(), arguments);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const io::SafetensorsReader reference(dir / "reference.safetensors");

  const auto cases = test_cases();
  double forward_difference = 0, cached_difference = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const at::Tensor ids = to_tensor(cases[i].input_ids);
    ForwardOptions options;
    options.output_hidden_states = true;
    if (!cases[i].attention_mask.empty()) options.attention_mask = to_tensor(cases[i].attention_mask);
    const at::Tensor real = options.attention_mask.defined() ? options.attention_mask.unsqueeze(-1).to(at::kFloat)
                                                             : at::ones({ids.size(0), ids.size(1), 1});
    at::NoGradGuard no_grad;
    const CausalLmOutput output = model.forward(ids, options);
    const std::string prefix = "case" + std::to_string(i);
    const at::Tensor expected = reference.tensor(prefix + ".logits");
    ASSERT_EQ(output.logits.sizes(), expected.sizes());
    forward_difference = std::max(forward_difference, max_difference(output.logits, expected, real));
    ASSERT_EQ(output.hidden_states.size(), static_cast<std::size_t>(model.config().num_hidden_layers + 1));
    for (std::size_t j = 0; j < output.hidden_states.size(); ++j) {
      const at::Tensor expected_state = reference.tensor(prefix + ".hidden_states." + std::to_string(j));
      EXPECT_LT(max_difference(output.hidden_states[j], expected_state, real), kTolerance)
          << prefix << " hidden state " << j;
    }
    cached_difference =
        std::max(cached_difference, max_difference(cached_logits(model, ids, options.attention_mask), expected, real));
  }
  EXPECT_LT(forward_difference, kTolerance) << "logits of one full pass";
  EXPECT_LT(cached_difference, kTolerance) << "logits fed through the KV cache";
  std::cout << "[ reference ] " << model.config().architecture << (adapted ? " with LoRA" : "")
            << ": max |logit difference| " << forward_difference << " (full pass), " << cached_difference
            << " (cached)\n";
  fs::remove_all(dir);
}

// Adapters on every projection of the rotary families, with A and B random (B starts at zero), so that each
// update changes the logits.
void add_random_lora(CausalLm& model, std::uint64_t seed) {
  LoraOptions options;
  options.r = 4;
  options.alpha = 8;
  options.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  add_lora_adapters(model, options);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (auto& parameter : model.named_parameters(/*recurse=*/true)) {
    if (parameter.key().find(".lora_") == std::string::npos) continue;
    parameter.value().copy_(at::empty(parameter.value().sizes(), at::kFloat).normal_(0.0, 0.2, generator));
  }
}

CausalLmConfig tiny_config(json fields) {
  json base = {{"vocab_size", 96}, {"max_position_embeddings", 64}};
  base.update(fields);
  return CausalLmConfig::from_json(base, "test config");
}

CausalLmConfig tiny_llama(bool tied) {
  return tiny_config({{"architectures", {"LlamaForCausalLM"}},
                      {"hidden_size", 64},
                      {"intermediate_size", 112},
                      {"num_hidden_layers", 2},
                      {"num_attention_heads", 4},
                      {"num_key_value_heads", 2},
                      {"rms_norm_eps", 1e-5},
                      {"rope_theta", 500.0},
                      {"tie_word_embeddings", tied}});
}

CausalLmConfig tiny_gpt2(bool tied) {
  return CausalLmConfig::from_json({{"architectures", {"GPT2LMHeadModel"}},
                                    {"vocab_size", 96},
                                    {"n_positions", 64},
                                    {"n_embd", 64},
                                    {"n_layer", 2},
                                    {"n_head", 4},
                                    {"tie_word_embeddings", tied},
                                    {"attn_pdrop", 0.0},
                                    {"resid_pdrop", 0.0},
                                    {"embd_pdrop", 0.0}},
                                   "test config");
}

TEST(LlamaReference, GqaWithTiedEmbeddingsMatchesReference) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/true), 1);
  randomize_parameters(*model, 11);
  expect_matches_reference(*model);
}

TEST(LlamaReference, UntiedWithAttentionAndMlpBiasesMatchesReference) {
  CausalLmConfig config = tiny_llama(/*tied=*/false);
  config.num_hidden_layers = 3;
  config.attention_qkv_bias = config.attention_output_bias = config.mlp_bias = true;
  auto model = create_causal_lm(config, 2);
  randomize_parameters(*model, 12);
  expect_matches_reference(*model);
}

TEST(LlamaReference, Qwen2WithQkvBiasesMatchesReference) {
  auto model = create_causal_lm(tiny_config({{"architectures", {"Qwen2ForCausalLM"}},
                                             {"hidden_size", 64},
                                             {"intermediate_size", 96},
                                             {"num_hidden_layers", 2},
                                             {"num_attention_heads", 8},
                                             {"num_key_value_heads", 2},
                                             {"rope_theta", 1000000.0}}),
                                3);
  randomize_parameters(*model, 13);
  expect_matches_reference(*model);
}

// Llama 3.x's rope_scaling with a short original context, so that the 8 frequencies of a 16-wide head fall in all
// three bands (kept, interpolated, divided by the factor).
TEST(LlamaReference, Llama3RopeScalingMatchesReference) {
  auto model = create_causal_lm(tiny_config({{"architectures", {"LlamaForCausalLM"}},
                                             {"hidden_size", 64},
                                             {"intermediate_size", 96},
                                             {"num_hidden_layers", 2},
                                             {"num_attention_heads", 4},
                                             {"num_key_value_heads", 1},
                                             {"rope_theta", 5000.0},
                                             {"rope_scaling",
                                              {{"rope_type", "llama3"},
                                               {"factor", 8.0},
                                               {"low_freq_factor", 1.0},
                                               {"high_freq_factor", 4.0},
                                               {"original_max_position_embeddings", 64}}},
                                             {"tie_word_embeddings", true}}),
                                6);
  randomize_parameters(*model, 16);
  expect_matches_reference(*model);
}

CausalLmConfig tiny_qwen3(bool attention_bias) {
  return tiny_config({{"architectures", {"Qwen3ForCausalLM"}},
                      {"hidden_size", 48},
                      {"intermediate_size", 80},
                      {"num_hidden_layers", 2},
                      {"num_attention_heads", 4},
                      {"num_key_value_heads", 2},
                      {"head_dim", 16},  // heads · head_dim ≠ hidden_size, as in Qwen3-0.6B
                      {"rms_norm_eps", 1e-6},
                      {"rope_theta", 1000000.0},
                      {"attention_bias", attention_bias},
                      {"tie_word_embeddings", true}});
}

TEST(Qwen3Reference, QueryKeyNormsMatchReference) {
  auto model = create_causal_lm(tiny_qwen3(/*attention_bias=*/false), 7);
  randomize_parameters(*model, 17);
  expect_matches_reference(*model);
}

TEST(Qwen3Reference, AttentionBiasesMatchReference) {
  auto model = create_causal_lm(tiny_qwen3(/*attention_bias=*/true), 8);
  randomize_parameters(*model, 18);
  expect_matches_reference(*model);
}

// Gemma 3 with a window of 3 on 7- and 8-token cases, so that sliding layers see less than global ones.
CausalLmConfig tiny_gemma3(json fields) {
  json base = {{"architectures", {"Gemma3ForCausalLM"}},
               {"model_type", "gemma3_text"},
               {"hidden_size", 64},
               {"intermediate_size", 96},
               {"num_hidden_layers", 3},
               {"num_attention_heads", 4},
               {"num_key_value_heads", 2},
               {"head_dim", 32},
               {"query_pre_attn_scalar", 24},
               {"sliding_window", 3},
               {"sliding_window_pattern", 2},  // sliding, full, sliding
               {"rope_theta", 100000.0},
               {"rope_local_base_freq", 500.0}};
  base.update(fields);
  return tiny_config(base);
}

TEST(Gemma3Reference, SlidingAndGlobalLayersWithSoftcappingMatchReference) {
  auto model = create_causal_lm(tiny_gemma3({{"final_logit_softcapping", 3.0}, {"attn_logit_softcapping", 2.0}}), 9);
  randomize_parameters(*model, 19);
  expect_matches_reference(*model);
}

TEST(Gemma3Reference, UntiedLayerTypesWithoutSoftcappingMatchReference) {
  auto model =
      create_causal_lm(tiny_gemma3({{"tie_word_embeddings", false},
                                    {"layer_types", {"full_attention", "sliding_attention", "sliding_attention"}},
                                    {"rope_scaling",
                                     {{"rope_type", "llama3"},
                                      {"factor", 4.0},
                                      {"low_freq_factor", 1.0},
                                      {"high_freq_factor", 2.0},
                                      {"original_max_position_embeddings", 32}}}}),
                       10);
  randomize_parameters(*model, 20);
  expect_matches_reference(*model);
}

TEST(LoraReference, LlamaWithAdaptersMatchesReference) {
  auto model = create_causal_lm(tiny_llama(/*tied=*/false), 22);
  randomize_parameters(*model, 23);
  add_random_lora(*model, 24);
  expect_matches_reference(*model);
}

TEST(LoraReference, Qwen3WithAdaptersMatchesReference) {
  auto model = create_causal_lm(tiny_qwen3(/*attention_bias=*/true), 25);
  randomize_parameters(*model, 26);
  add_random_lora(*model, 27);
  expect_matches_reference(*model);
}

TEST(LoraReference, Gemma3WithAdaptersMatchesReference) {
  auto model = create_causal_lm(tiny_gemma3({{"attn_logit_softcapping", 5.0}}), 28);
  randomize_parameters(*model, 29);
  add_random_lora(*model, 30);
  expect_matches_reference(*model);
}

TEST(Gpt2Reference, TiedMatchesReference) {
  auto model = create_causal_lm(tiny_gpt2(/*tied=*/true), 4);
  randomize_parameters(*model, 14);
  expect_matches_reference(*model);
}

TEST(Gpt2Reference, UntiedShardedCheckpointMatchesReference) {
  CausalLmConfig config = tiny_gpt2(/*tied=*/false);
  config.num_hidden_layers = 3;
  auto model = create_causal_lm(config, 5);
  randomize_parameters(*model, 15);
  io::CheckpointWriteOptions options;
  options.max_shard_bytes = 64 * 1024;  // several shards and an index
  expect_matches_reference(*model, options);
}

}  // namespace
}  // namespace ladle::model
