// `merge_method: fisher` from a YAML config: each model's `fisher` file reaches the method, checked end to end
// against Matena & Raffel's Fisher-weighted average computed here from the inputs' tensors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/safetensors_writer.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::CommandResult;
using ladle::testing::contains;
using ladle::testing::run_ladle;

// A diagonal Fisher for every tensor of `model`: positive, spread over two orders of magnitude.
NamedTensors random_fisher(const NamedTensors& model, std::uint64_t seed) {
  at::manual_seed(seed);
  NamedTensors fisher;
  for (const auto& [name, tensor] : model) fisher.insert(name, at::rand(tensor.sizes()).mul_(10).pow_(2).add_(0.01));
  return fisher;
}

double whole_model_norm(const NamedTensors& fisher) {
  double squares = 0;
  for (const auto& [name, tensor] : fisher) squares += tensor.to(at::kDouble).square().sum().item<double>();
  return std::sqrt(squares);
}

class FisherMergeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("fisher-merge");
    ladle::testing::RandomLlamaOptions options;
    options.seed = 1;
    a_ = ladle::testing::write_random_llama(dir_ / "a", options);
    options.seed = 2;
    b_ = ladle::testing::write_random_llama(dir_ / "b", options);
    fisher_a_ = random_fisher(a_, 3);
    fisher_b_ = random_fisher(b_, 4);
    io::write_safetensors(dir_ / "fisher_a.safetensors", fisher_a_);
    io::write_safetensors(dir_ / "fisher_b.safetensors", fisher_b_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult merge(const std::string& yaml) {
    const fs::path config = ladle::testing::write_text_file(dir_ / "merge.yml", yaml);
    return run_ladle({"--quiet", "merge", config.string(), (dir_ / "out").string()});
  }
  // A merge that must fail: returns its stderr after checking that nothing was written.
  std::string failed_merge(const std::string& yaml) {
    const CommandResult result = merge(yaml);
    EXPECT_NE(result.exit_code, 0) << result.out;
    EXPECT_FALSE(fs::exists(dir_ / "out"));
    return result.err;
  }

  fs::path dir_;
  NamedTensors a_, b_, fisher_a_, fisher_b_;
};

const char* kTwoModels =
    "merge_method: fisher\n"
    "models:\n"
    "  - model: a\n"
    "    fisher: fisher_a.safetensors\n"
    "    parameters: {weight: 0.4}\n"
    "  - model: b\n"
    "    fisher: fisher_b.safetensors\n"
    "    parameters: {weight: 0.6}\n";

// Matena & Raffel eq. 3 with normalize_fishers (the default): F̃ᵢ = max(Fᵢ / ‖Fᵢ‖, 1e-6), ‖Fᵢ‖ over the whole
// model, θ = Σ λᵢ·F̃ᵢ·θᵢ / Σ λᵢ·F̃ᵢ.
TEST_F(FisherMergeConfigTest, YamlMergeEqualsTheNormalizedFisherWeightedAverage) {
  const CommandResult result = merge(kTwoModels);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const double norm_a = whole_model_norm(fisher_a_), norm_b = whole_model_norm(fisher_b_);
  const io::CheckpointReader merged(dir_ / "out");
  ASSERT_EQ(merged.names().size(), a_.size());
  for (const auto& [name, theta_a] : a_) {
    const at::Tensor fa = (fisher_a_.at(name).to(at::kDouble) / norm_a).clamp_min(1e-6) * 0.4;
    const at::Tensor fb = (fisher_b_.at(name).to(at::kDouble) / norm_b).clamp_min(1e-6) * 0.6;
    const at::Tensor expected = (fa * theta_a + fb * b_.at(name)) / (fa + fb);
    EXPECT_TRUE(at::allclose(merged.tensor(name).to(at::kDouble), expected, 1e-5, 1e-6)) << name;
  }
}

TEST_F(FisherMergeConfigTest, WithoutNormalizationTheRawFishersWeighTheModels) {
  const CommandResult result =
      merge(std::string(kTwoModels) + "parameters: {normalize_fishers: false, fisher_floor: 1.0}\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const io::CheckpointReader merged(dir_ / "out");
  for (const auto& [name, theta_a] : a_) {
    const at::Tensor fa = fisher_a_.at(name).to(at::kDouble).clamp_min(1.0) * 0.4;
    const at::Tensor fb = fisher_b_.at(name).to(at::kDouble).clamp_min(1.0) * 0.6;
    const at::Tensor expected = (fa * theta_a + fb * b_.at(name)) / (fa + fb);
    EXPECT_TRUE(at::allclose(merged.tensor(name).to(at::kDouble), expected, 1e-5, 1e-6)) << name;
  }
}

TEST_F(FisherMergeConfigTest, MissingFisherTensorIsAnErrorNamingTheTensorAndFile) {
  NamedTensors partial;
  for (const auto& [name, tensor] : fisher_b_) {
    if (name != "model.layers.1.mlp.up_proj.weight") partial.insert(name, tensor);
  }
  io::write_safetensors(dir_ / "fisher_b.safetensors", partial);
  const std::string error = failed_merge(kTwoModels);
  EXPECT_TRUE(contains(error, "model.layers.1.mlp.up_proj.weight")) << error;
  EXPECT_TRUE(contains(error, "models[1].fisher 'fisher_b.safetensors'")) << error;
}

TEST_F(FisherMergeConfigTest, FisherWithTheWrongShapeIsAnError) {
  NamedTensors wrong = fisher_b_;
  wrong.insert_or_assign("model.norm.weight", at::ones({3}));
  io::write_safetensors(dir_ / "fisher_b.safetensors", wrong);
  const std::string error = failed_merge(kTwoModels);
  EXPECT_TRUE(contains(error, "'model.norm.weight' has shape [3]")) << error;
}

TEST_F(FisherMergeConfigTest, ModelWithoutFisherIsAnError) {
  const std::string error =
      failed_merge("merge_method: fisher\nmodels:\n  - model: a\n    fisher: fisher_a.safetensors\n  - model: b\n");
  EXPECT_TRUE(contains(error, "models[1] (b): merge_method fisher needs the model's diagonal Fisher")) << error;
  EXPECT_TRUE(contains(error, "set models[1].fisher")) << error;
}

TEST_F(FisherMergeConfigTest, UnreadableFisherFileIsAnError) {
  const std::string error = failed_merge(
      "merge_method: fisher\nmodels:\n  - model: a\n    fisher: fisher_a.safetensors\n"
      "  - model: b\n    fisher: no_such.safetensors\n");
  EXPECT_TRUE(contains(error, "models[1].fisher 'no_such.safetensors': cannot be opened")) << error;
}

TEST_F(FisherMergeConfigTest, FisherKeyWithAnotherMethodIsAnError) {
  const std::string error = failed_merge(
      "merge_method: linear\nmodels:\n  - model: a\n    fisher: fisher_a.safetensors\n  - model: b\n"
      "parameters: {weight: 1}\n");
  EXPECT_TRUE(contains(error, "models[0].fisher: merge_method linear reads no Fisher information")) << error;
}

TEST_F(FisherMergeConfigTest, BaseModelIsRefused) {
  const std::string error = failed_merge(std::string(kTwoModels) + "base_model: a\n");
  EXPECT_TRUE(contains(error, "merge_method fisher uses no base model")) << error;
}

}  // namespace
}  // namespace ladle::merge
