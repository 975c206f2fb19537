// `ladle merge` on the families whose layers carry more than Llama's tensors (Qwen3's q/k norms, Gemma 3's four
// norms per layer and tied embeddings): every tensor of the output is the average of the inputs', and the output
// folder loads back as the same architecture.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "lib/io/checkpoint_reader.h"
#include "lib/model/causal_lm_factory.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"

namespace ladle::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json qwen3_config() {
  return {{"architectures", {"Qwen3ForCausalLM"}},
          {"vocab_size", 40},
          {"hidden_size", 32},
          {"intermediate_size", 48},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"head_dim", 16}};
}

json gemma3_config() {
  return {{"architectures", {"Gemma3ForCausalLM"}},
          {"vocab_size", 40},
          {"hidden_size", 32},
          {"intermediate_size", 48},
          {"num_hidden_layers", 3},
          {"num_attention_heads", 2},
          {"num_key_value_heads", 1},
          {"head_dim", 16},
          {"sliding_window", 4},
          {"sliding_window_pattern", 3}};
}

// Two models of `config` from different seeds (norm weights moved off their initial values too), merged 50/50.
void expect_linear_merge_averages_every_tensor(const json& config) {
  const fs::path dir = ladle::testing::make_temp_dir("merge-families");
  const CausalLmConfig parsed = CausalLmConfig::from_json(config);
  std::vector<NamedTensors> inputs;
  for (const std::uint64_t seed : {1, 2}) {
    auto model = create_causal_lm(parsed, seed);
    at::NoGradGuard no_grad;
    for (auto& [name, tensor] : model->hf_state_dict()) tensor.add_(static_cast<double>(seed) / 10);
    save_causal_lm(*model, dir / ("m" + std::to_string(seed)));
    inputs.push_back(model->hf_state_dict());
  }
  ladle::testing::write_text_file(dir / "merge.yml",
                                  "merge_method: linear\nmodels:\n  - model: m1\n    parameters: {weight: 0.5}\n"
                                  "  - model: m2\n    parameters: {weight: 0.5}\n");
  const auto result =
      ladle::testing::run_ladle({"--quiet", "merge", (dir / "merge.yml").string(), (dir / "out").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto merged = load_causal_lm(dir / "out");
  EXPECT_EQ(merged->config().to_json(), parsed.to_json());
  const NamedTensors output = merged->hf_state_dict();
  ASSERT_EQ(output.size(), inputs[0].size());
  for (const auto& [name, tensor] : inputs[0]) {
    EXPECT_TRUE(at::allclose(output.at(name), (tensor + inputs[1].at(name)) / 2, 1e-6, 1e-6)) << name;
  }
  fs::remove_all(dir);
}

TEST(MergeNewFamilies, Qwen3LinearMergeAveragesQueryKeyNormsToo) {
  expect_linear_merge_averages_every_tensor(qwen3_config());
}

TEST(MergeNewFamilies, Gemma3LinearMergeAveragesAllFourNormsAndLoadsBack) {
  expect_linear_merge_averages_every_tensor(gemma3_config());
}

}  // namespace
}  // namespace ladle::model
