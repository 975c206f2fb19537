// ladle's forward pass against tests/tools/reference_causal_lm.py, an independent float64 PyTorch implementation
// of the Hugging Face modeling equations that reads the checkpoint ladle saved.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/io/safetensors_reader.h"
#include "lib/model/causal_lm_factory.h"
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

// Saves the model, runs the reference on the cases and checks logits and hidden states at every real token.
void expect_matches_reference(CausalLm& model, const io::CheckpointWriteOptions& write_options = {}) {
  const fs::path dir = ladle::testing::make_temp_dir("reference");
  save_causal_lm(model, dir / "model", write_options);
  json input = {{"cases", json::array()}};
  for (const auto& c : test_cases()) {
    json entry = {{"input_ids", c.input_ids}};
    if (!c.attention_mask.empty()) entry["attention_mask"] = c.attention_mask;
    input["cases"].push_back(entry);
  }
  std::ofstream(dir / "input.json") << input.dump();
  const auto result = ladle::testing::run_command(
      ladle::testing::python_program(),
      {std::string(LADLE_SOURCE_DIR) + "/tests/tools/reference_causal_lm.py", (dir / "model").string(),
       (dir / "input.json").string(), (dir / "reference.safetensors").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const io::SafetensorsReader reference(dir / "reference.safetensors");

  const auto cases = test_cases();
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
    EXPECT_LT(((output.logits - expected) * real).abs().max().item<double>(), kTolerance) << prefix << " logits";
    ASSERT_EQ(output.hidden_states.size(), static_cast<std::size_t>(model.config().num_hidden_layers + 1));
    for (std::size_t j = 0; j < output.hidden_states.size(); ++j) {
      const at::Tensor expected_state = reference.tensor(prefix + ".hidden_states." + std::to_string(j));
      EXPECT_LT(((output.hidden_states[j] - expected_state) * real).abs().max().item<double>(), kTolerance)
          << prefix << " hidden state " << j;
    }
  }
  fs::remove_all(dir);
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
