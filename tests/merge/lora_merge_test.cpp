// LoRA merges: an adapter into its base (W + (α/r)·B·A), several adapters with a merge method in ΔW space, the
// merged update re-factorised by truncated SVD with the energy it keeps, and `ladle merge lora` /
// `ladle merge lora-adapters` end to end. Expected values are computed here with at::matmul from the adapters'
// own tensors, or from singular values chosen by hand.
#include "lib/merge/lora_merge.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/merge/lora_factorization.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/lora.h"
#include "lib/model/projection.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::CommandResult;
using ladle::testing::contains;
using ladle::testing::error_message;
using ladle::testing::run_ladle;
using model::LoraAdapter;

const char* kQ0 = "model.layers.0.self_attn.q_proj";

model::CausalLmConfig tiny_llama(std::int64_t hidden = 32) {
  return model::CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                           {"vocab_size", 50},
                                           {"hidden_size", hidden},
                                           {"intermediate_size", 48},
                                           {"num_hidden_layers", 2},
                                           {"num_attention_heads", 4},
                                           {"num_key_value_heads", 2}});
}

model::CausalLmConfig tiny_gpt2() {
  return model::CausalLmConfig::from_json({{"architectures", {"GPT2LMHeadModel"}},
                                           {"vocab_size", 50},
                                           {"n_embd", 32},
                                           {"n_layer", 2},
                                           {"n_head", 4},
                                           {"n_positions", 16}});
}

// (α/r)·B·A of one module, from the adapter's PEFT tensors.
at::Tensor expected_delta(const LoraAdapter& adapter, const std::string& module) {
  const at::Tensor a = adapter.tensors.at("base_model.model." + module + ".lora_A.weight");
  const at::Tensor b = adapter.tensors.at("base_model.model." + module + ".lora_B.weight");
  return at::matmul(b, a) * (adapter.options.alpha / static_cast<double>(adapter.options.r));
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance = 1e-5) {
  EXPECT_TRUE(at::allclose(actual, expected, tolerance, tolerance))
      << "largest difference " << (actual - expected).abs().max().item<double>();
}

class LoraMergeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("lora-merge"); }
  void TearDown() override { fs::remove_all(dir_); }

  // Saves the model every adapter of this config adapts (weights from seed 1) and returns its tensors.
  NamedTensors base(const std::string& name, const model::CausalLmConfig& config) {
    const auto model = model::create_causal_lm(config, 1);
    model::save_causal_lm(*model, dir_ / name);
    return model->hf_state_dict();
  }

  // Trains nothing, but gives the adapter a seeded A (Kaiming-uniform) and a seeded non-zero B, as training would.
  LoraAdapter adapter(const std::string& name, const model::CausalLmConfig& config, std::vector<std::string> targets,
                      std::int64_t r, double alpha, std::uint64_t seed) {
    const auto model = model::create_causal_lm(config, 1);
    model::LoraOptions options;
    options.r = r;
    options.alpha = alpha;
    options.target_modules = std::move(targets);
    options.seed = seed;
    model::add_lora_adapters(*model, options);
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed + 100);
    for (const auto& [module, projection] : model->named_projections()) {
      if (!projection->has_lora()) continue;
      projection->set_lora_weights(projection->lora_a(),
                                   at::empty(projection->lora_b().sizes()).normal_(0.0, 0.5, generator));
    }
    model::save_lora_adapter(model::lora_adapter(*model, "tiny"), dir_ / name);
    return model::read_lora_adapter(dir_ / name);
  }

  // An adapter whose every q_proj update is U·diag(3, 2, 1)·Vᵀ with orthonormal U and V (r = α = 3).
  LoraAdapter adapter_with_singular_values_3_2_1(const std::string& name) {
    LoraAdapter adapter;
    adapter.options.r = 3;
    adapter.options.alpha = 3;
    adapter.options.target_modules = {"q_proj"};
    at::manual_seed(7);
    for (const std::string layer : {"0", "1"}) {
      const at::Tensor u = std::get<0>(at::linalg_qr(at::randn({32, 3})));
      const at::Tensor v = std::get<0>(at::linalg_qr(at::randn({32, 3})));
      const std::string module = "base_model.model.model.layers." + layer + ".self_attn.q_proj";
      adapter.tensors.insert(module + ".lora_A.weight", v.t().contiguous());
      adapter.tensors.insert(module + ".lora_B.weight", (u * at::tensor({3.0f, 2.0f, 1.0f})).contiguous());
    }
    model::save_lora_adapter(adapter, dir_ / name);
    return adapter;
  }

  MergeConfig config(const std::string& yaml) {
    return load_merge_config(ladle::testing::write_text_file(dir_ / "merge.yml", yaml));
  }

  at::Tensor output(const std::string& name, const std::string& folder = "out") {
    return io::CheckpointReader(dir_ / folder).tensor(name);
  }

  fs::path dir_;
};

const char* kTwoAdapters =
    "merge_method: linear\nmodels:\n  - model: a1\n    parameters: {weight: 0.3}\n"
    "  - model: a2\n    parameters: {weight: 0.7}\n";

TEST_F(LoraMergeTest, MergedIntoBaseEqualsWPlusScaledBA) {
  const NamedTensors weights = base("base", tiny_llama());
  const LoraAdapter lora = adapter("a1", tiny_llama(), {"q_proj", "v_proj"}, 4, 8, 1);
  const auto stats = merge_lora_into_model(dir_ / "base", dir_ / "a1", dir_ / "out");
  EXPECT_EQ(stats.updated, 4u);
  const io::CheckpointReader merged(dir_ / "out");
  ASSERT_EQ(merged.names().size(), weights.size());
  for (const auto& [name, weight] : weights) {
    const bool adapted = contains(name, "q_proj") || contains(name, "v_proj");
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    expect_close(merged.tensor(name), adapted ? weight + expected_delta(lora, module) : weight);
  }
}

TEST_F(LoraMergeTest, Gpt2ConvWeightsTakeTheTransposedUpdate) {
  const NamedTensors weights = base("base", tiny_gpt2());
  const LoraAdapter lora = adapter("a1", tiny_gpt2(), {"c_attn"}, 4, 8, 1);
  ASSERT_TRUE(lora.fan_in_fan_out);
  merge_lora_into_model(dir_ / "base", dir_ / "a1", dir_ / "out");
  for (const std::string layer : {"0", "1"}) {
    const std::string module = "transformer.h." + layer + ".attn.c_attn";
    // c_attn is stored [in, 3·out] = [32, 96]; B·A is [96, 32].
    expect_close(output(module + ".weight"), weights.at(module + ".weight") + expected_delta(lora, module).t());
  }
  expect_close(output("transformer.h.0.attn.c_proj.weight"), weights.at("transformer.h.0.attn.c_proj.weight"));
}

TEST_F(LoraMergeTest, AdapterForAnotherBaseNamesTheWeightAndShapes) {
  base("base", tiny_llama(48));
  adapter("a1", tiny_llama(), {"q_proj"}, 4, 8, 1);
  const std::string error = error_message([&] { merge_lora_into_model(dir_ / "base", dir_ / "a1", dir_ / "out"); });
  EXPECT_TRUE(contains(error, "'model.layers.0.self_attn.q_proj.weight' has shape [48, 48]")) << error;
  EXPECT_TRUE(contains(error, "[32, 32]")) << error;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

// Ranks 2 and 4: only the products meet, so ranks may differ.
TEST_F(LoraMergeTest, LinearMergeIsTheWeightedAverageOfTheUpdates) {
  const NamedTensors weights = base("base", tiny_llama());
  const LoraAdapter a1 = adapter("a1", tiny_llama(), {"q_proj", "v_proj"}, 2, 4, 1);
  const LoraAdapter a2 = adapter("a2", tiny_llama(), {"q_proj", "v_proj"}, 4, 16, 2);
  LoraAdaptersMergeOptions options;
  options.full_model = dir_ / "base";
  const auto result = merge_lora_adapters(config(kTwoAdapters), dir_ / "out", options);
  EXPECT_TRUE(result.full_model);
  for (const std::string module : {kQ0, "model.layers.1.self_attn.v_proj"}) {
    const at::Tensor average = (0.3 * expected_delta(a1, module) + 0.7 * expected_delta(a2, module)) / 1.0;
    expect_close(output(module + ".weight"), weights.at(module + ".weight") + average);
  }
  expect_close(output("model.layers.0.mlp.up_proj.weight"), weights.at("model.layers.0.mlp.up_proj.weight"));
}

// mean(B)·mean(A) = (1/4)·(B₁A₁ + B₁A₂ + B₂A₁ + B₂A₂), not (1/2)·(B₁A₁ + B₂A₂).
TEST_F(LoraMergeTest, LinearMergeDiffersFromMultiplyingAveragedFactors) {
  const NamedTensors weights = base("base", tiny_llama());
  const LoraAdapter a1 = adapter("a1", tiny_llama(), {"q_proj"}, 4, 8, 1);
  const LoraAdapter a2 = adapter("a2", tiny_llama(), {"q_proj"}, 4, 8, 2);
  LoraAdaptersMergeOptions options;
  options.full_model = dir_ / "base";
  merge_lora_adapters(config("merge_method: linear\nmodels:\n  - model: a1\n  - model: a2\nparameters: {weight: 1}\n"),
                      dir_ / "out", options);
  const std::string a = std::string("base_model.model.") + kQ0 + ".lora_A.weight";
  const std::string b = std::string("base_model.model.") + kQ0 + ".lora_B.weight";
  const at::Tensor mean_of_products = (expected_delta(a1, kQ0) + expected_delta(a2, kQ0)) / 2;
  const at::Tensor product_of_means =
      at::matmul((a1.tensors.at(b) + a2.tensors.at(b)) / 2, (a1.tensors.at(a) + a2.tensors.at(a)) / 2) * 2.0;
  ASSERT_FALSE(at::allclose(mean_of_products, product_of_means, 1e-2, 1e-2));
  const at::Tensor merged_delta = output(std::string(kQ0) + ".weight") - weights.at(std::string(kQ0) + ".weight");
  expect_close(merged_delta, mean_of_products);
}

// With a zero base the updates are the task vectors: θ = 0 + λ·Σ wᵢ·ΔWᵢ.
TEST_F(LoraMergeTest, TaskArithmeticTakesTheUpdatesAsTaskVectors) {
  const NamedTensors weights = base("base", tiny_llama());
  const LoraAdapter a1 = adapter("a1", tiny_llama(), {"q_proj"}, 4, 8, 1);
  const LoraAdapter a2 = adapter("a2", tiny_llama(), {"q_proj"}, 2, 2, 2);
  LoraAdaptersMergeOptions options;
  options.full_model = dir_ / "base";
  merge_lora_adapters(config("merge_method: task_arithmetic\nmodels:\n  - model: a1\n    parameters: {weight: 1}\n"
                             "  - model: a2\n    parameters: {weight: 0.5}\nparameters: {lambda: 0.8}\n"),
                      dir_ / "out", options);
  const at::Tensor expected = 0.8 * (expected_delta(a1, kQ0) + 0.5 * expected_delta(a2, kQ0));
  expect_close(output(std::string(kQ0) + ".weight") - weights.at(std::string(kQ0) + ".weight"), expected);
}

TEST_F(LoraMergeTest, FullRankRefactorizationReproducesTheMergedUpdateWithEnergyOne) {
  const LoraAdapter a1 = adapter("a1", tiny_llama(), {"q_proj", "v_proj"}, 2, 4, 1);
  const LoraAdapter a2 = adapter("a2", tiny_llama(), {"q_proj", "v_proj"}, 4, 16, 2);
  LoraAdaptersMergeOptions options;
  options.rank = 16;  // min(out, in) of v_proj's [16, 32]: every singular value is kept
  const auto result = merge_lora_adapters(config(kTwoAdapters), dir_ / "out", options);
  EXPECT_FALSE(result.full_model);
  EXPECT_NEAR(result.energy_fraction(), 1.0, 1e-9);
  const LoraAdapter merged = model::read_lora_adapter(dir_ / "out");
  EXPECT_EQ(merged.options.r, 16);
  EXPECT_EQ(merged.options.alpha, 16);
  for (const std::string module : {kQ0, "model.layers.1.self_attn.v_proj"}) {
    expect_close(expected_delta(merged, module), 0.3 * expected_delta(a1, module) + 0.7 * expected_delta(a2, module));
  }
}

// Singular values 3, 2, 1 kept at rank 2: (9 + 4) / (9 + 4 + 1) of the energy, and the product is U₂·diag(3, 2)·V₂ᵀ.
TEST_F(LoraMergeTest, LowerRankKeepsTheHandComputedEnergy) {
  const LoraAdapter lora = adapter_with_singular_values_3_2_1("a1");
  LoraAdaptersMergeOptions options;
  options.rank = 2;
  const auto result = merge_lora_adapters(
      config("merge_method: linear\nmodels:\n  - model: a1\nparameters: {weight: 1}\n"), dir_ / "out", options);
  ASSERT_EQ(result.modules.size(), 2u);
  for (const auto& module : result.modules) EXPECT_NEAR(module.fraction(), 13.0 / 14.0, 1e-6) << module.module;
  EXPECT_NEAR(result.energy_fraction(), 13.0 / 14.0, 1e-6);
  const LoraAdapter merged = model::read_lora_adapter(dir_ / "out");
  const at::Tensor a = lora.tensors.at(std::string("base_model.model.") + kQ0 + ".lora_A.weight");
  const at::Tensor b = lora.tensors.at(std::string("base_model.model.") + kQ0 + ".lora_B.weight");
  expect_close(expected_delta(merged, kQ0), at::matmul(b.narrow(1, 0, 2), a.narrow(0, 0, 2)));
}

TEST(LoraFactorization, RankBeyondTheMatrixIsAnError) {
  const std::string error = error_message([] { truncated_lora_factors(at::ones({4, 3}), 4); });
  EXPECT_TRUE(contains(error, "rank 4 is outside [1, 3]")) << error;
}

TEST_F(LoraMergeTest, AdaptersOfDifferentModulesNameTheModuleAndAdapters) {
  adapter("a1", tiny_llama(), {"q_proj", "v_proj"}, 4, 8, 1);
  adapter("a2", tiny_llama(), {"q_proj"}, 4, 8, 2);
  const std::string error = error_message([&] { LoraDeltaMerger merger(config(kTwoAdapters)); });
  EXPECT_TRUE(contains(error, "models[0] (a1) and models[1] (a2) adapt different modules")) << error;
  EXPECT_TRUE(contains(error, "lacks 'model.layers.0.self_attn.v_proj'")) << error;
}

TEST_F(LoraMergeTest, AdaptersOfDifferentShapesNameTheModuleAndShapes) {
  adapter("a1", tiny_llama(), {"q_proj"}, 4, 8, 1);
  adapter("a2", tiny_llama(48), {"q_proj"}, 4, 8, 2);
  const std::string error = error_message([&] { LoraDeltaMerger merger(config(kTwoAdapters)); });
  EXPECT_TRUE(contains(error,
                       "module 'model.layers.0.self_attn.q_proj': ΔW = B·A is [48, 48] in models[1] (a2) but "
                       "[32, 32] in models[0] (a1)"))
      << error;
}

TEST_F(LoraMergeTest, RankLargerThanAModuleAllowsIsAnError) {
  adapter("a1", tiny_llama(), {"q_proj", "v_proj"}, 4, 8, 1);
  LoraAdaptersMergeOptions options;
  options.rank = 17;
  const std::string error = error_message([&] {
    merge_lora_adapters(config("merge_method: linear\nmodels:\n  - model: a1\nparameters: {weight: 1}\n"), dir_ / "out",
                        options);
  });
  EXPECT_TRUE(contains(error, "module 'model.layers.0.self_attn.v_proj' has a [16, 32] update")) << error;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(LoraMergeTest, RankWithAFullModelOutputIsAnError) {
  base("base", tiny_llama());
  adapter("a1", tiny_llama(), {"q_proj"}, 4, 8, 1);
  LoraAdaptersMergeOptions options;
  options.rank = 4;
  const std::string error = error_message([&] {
    merge_lora_adapters(config("merge_method: linear\nbase_model: base\nmodels:\n  - model: a1\n"), dir_ / "out",
                        options);
  });
  EXPECT_TRUE(contains(error, "--rank sets the rank of an output adapter, but the output is a full model")) << error;
}

TEST_F(LoraMergeTest, UnknownParameterNamesTheKey) {
  adapter("a1", tiny_llama(), {"q_proj"}, 4, 8, 1);
  const std::string error = error_message([&] {
    LoraDeltaMerger merger(config("merge_method: linear\nmodels:\n  - model: a1\n    parameters: {density: 0.5}\n"));
  });
  EXPECT_TRUE(contains(error, "models[0].parameters.density: unknown parameter for merge_method linear")) << error;
}

// ---- CLI ----

TEST_F(LoraMergeTest, CliMergesAnAdapterIntoItsBaseFolder) {
  const NamedTensors weights = base("base", tiny_llama());
  ladle::testing::write_text_file(dir_ / "base" / "tokenizer.json", "{\"tag\": \"base tokenizer\"}");
  const LoraAdapter lora = adapter("a1", tiny_llama(), {"q_proj"}, 4, 8, 1);
  const CommandResult result = run_ladle(
      {"--quiet", "merge", "lora", (dir_ / "base").string(), (dir_ / "a1").string(), (dir_ / "out").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "merged the adapter into 2 of")) << result.out;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "config.json"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "tokenizer.json"));
  expect_close(output(std::string(kQ0) + ".weight"),
               weights.at(std::string(kQ0) + ".weight") + expected_delta(lora, kQ0));
}

TEST_F(LoraMergeTest, CliWritesAReFactorizedAdapterAndReportsTheEnergyKept) {
  adapter_with_singular_values_3_2_1("a1");
  ladle::testing::write_text_file(dir_ / "merge.yml",
                                  "merge_method: linear\nmodels:\n  - model: a1\nparameters: {weight: 1}\n");
  const CommandResult result = run_ladle(
      {"--quiet", "merge", "lora-adapters", (dir_ / "merge.yml").string(), (dir_ / "out").string(), "--rank", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "wrote an adapter of rank 2")) << result.out;
  EXPECT_TRUE(contains(result.out, std::string(kQ0) + ": 0.928571")) << result.out;  // 13/14
  EXPECT_TRUE(contains(result.out, "overall: 0.928571")) << result.out;
  nlohmann::json adapter_config;
  std::ifstream(dir_ / "out" / "adapter_config.json") >> adapter_config;
  EXPECT_EQ(adapter_config["r"], 2);
  EXPECT_EQ(adapter_config["lora_alpha"], 2);
  EXPECT_EQ(adapter_config["target_modules"], nlohmann::json({"q_proj"}));
}

TEST_F(LoraMergeTest, CliWritesAFullModelWithTheMergedUpdate) {
  const NamedTensors weights = base("base", tiny_llama());
  const LoraAdapter a1 = adapter("a1", tiny_llama(), {"q_proj"}, 4, 8, 1);
  const LoraAdapter a2 = adapter("a2", tiny_llama(), {"q_proj"}, 2, 4, 2);
  ladle::testing::write_text_file(dir_ / "merge.yml", kTwoAdapters);
  const CommandResult result = run_ladle({"--quiet", "merge", "lora-adapters", (dir_ / "merge.yml").string(),
                                          (dir_ / "out").string(), "--full-model", (dir_ / "base").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "wrote a full model")) << result.out;
  expect_close(output(std::string(kQ0) + ".weight"), weights.at(std::string(kQ0) + ".weight") +
                                                         0.3 * expected_delta(a1, kQ0) + 0.7 * expected_delta(a2, kQ0));
}

// examples/merge-lora-adapters.yml (TIES with a filtered density) stays a config that runs.
TEST_F(LoraMergeTest, CliRunsTheExampleConfig) {
  adapter("adapters/math", tiny_llama(), {"q_proj", "v_proj"}, 4, 8, 1);
  adapter("adapters/code", tiny_llama(), {"q_proj", "v_proj"}, 8, 8, 2);
  fs::copy_file(fs::path(LADLE_SOURCE_DIR) / "examples" / "merge-lora-adapters.yml", dir_ / "merge.yml");
  const CommandResult result = run_ladle({"--quiet", "merge", "lora-adapters", (dir_ / "merge.yml").string(),
                                          (dir_ / "out").string(), "--rank", "4"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(model::read_lora_adapter(dir_ / "out").options.r, 4);
}

TEST_F(LoraMergeTest, CliFailsOnMismatchedAdaptersAndWritesNothing) {
  adapter("a1", tiny_llama(), {"q_proj", "v_proj"}, 4, 8, 1);
  adapter("a2", tiny_llama(), {"q_proj"}, 4, 8, 2);
  ladle::testing::write_text_file(dir_ / "merge.yml", kTwoAdapters);
  const CommandResult result =
      run_ladle({"--quiet", "merge", "lora-adapters", (dir_ / "merge.yml").string(), (dir_ / "out").string()});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, "adapt different modules")) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

}  // namespace
}  // namespace ladle::merge
