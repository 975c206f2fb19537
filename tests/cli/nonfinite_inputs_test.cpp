// NaN and ±Inf in input models (issue 15): `ladle merge`, `ladle soup` and `ladle wise-ft` check every tensor as
// they read it and stop naming the model folder, the tensor and the count, unless --allow-nonfinite; then the
// values pass through as the formulas say.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/weights/nonfinite_values.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;
using ladle::testing::CommandResult;
using ladle::testing::contains;
using ladle::testing::run_ladle;

constexpr const char* kPoisoned = "model.layers.0.mlp.up_proj.weight";  // [24, 16]: 384 entries

class NonfiniteInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("nonfinite");
    ladle::testing::RandomLlamaOptions options;
    a_ = ladle::testing::write_random_llama(dir_ / "a", options);
    // "nan": a copy of a with one NaN in one tensor.
    NamedTensors poisoned;
    for (const auto& [name, tensor] : a_) {
      at::Tensor copy = tensor.clone();
      if (name == kPoisoned) copy.index_put_({0, 0}, std::numeric_limits<float>::quiet_NaN());
      poisoned.insert(name, copy);
    }
    io::save_checkpoint(dir_ / "nan", poisoned, *io::CheckpointReader(dir_ / "a").config());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // The message every command gives for the poisoned tensor of `model`.
  std::string message(const std::string& model) const {
    return model + ": tensor '" + kPoisoned + "' has 1 NaN or infinite value (of 384)";
  }
  // The poisoned tensor of an output: NaN exactly at [0, 0].
  void expect_nan_only_at_the_poisoned_entry(const std::string& output) const {
    const at::Tensor merged = io::CheckpointReader(path(output)).tensor(kPoisoned);
    EXPECT_TRUE(std::isnan(merged[0][0].item<float>()));
    EXPECT_EQ(count_nonfinite(merged), 1);
  }

  fs::path dir_;
  NamedTensors a_;
};

TEST(CountNonfinite, CountsNanAndBothInfinitiesAcrossBlocks) {
  at::Tensor values = at::zeros({3, 1 << 20}, at::kBFloat16);  // three 1 Mi-entry blocks
  values.index_put_({0, 5}, std::numeric_limits<float>::quiet_NaN());
  values.index_put_({1, 7}, std::numeric_limits<float>::infinity());
  values.index_put_({2, (1 << 20) - 1}, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(count_nonfinite(values), 3);
  EXPECT_EQ(count_nonfinite(at::arange(10)), 0);  // integers hold no NaN
}

// The bit-level count against ATen's isfinite, for every floating dtype, on the largest finite values, the smallest
// subnormals, NaNs with payloads, both infinities, and a non-contiguous view (which takes the ATen path).
TEST(CountNonfinite, AgreesWithAtenIsfiniteForEveryFloatingDtype) {
  // Each dtype's largest finite value (exponent all ones but the last bit) and a subnormal.
  const std::vector<std::tuple<at::ScalarType, double, double>> dtypes = {
      {at::kFloat, 3.4028234663852886e38, 1e-40},
      {at::kDouble, std::numeric_limits<double>::max(), 1e-310},
      {at::kBFloat16, 3.3895313892515355e38, 1e-40},
      {at::kHalf, 65504.0, 1e-6}};
  for (const auto& [dtype, largest, subnormal] : dtypes) {
    at::manual_seed(11);
    at::Tensor values = at::randn({70001}).to(dtype);
    const at::Tensor edges = at::tensor({std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                                         -std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::quiet_NaN()})
                                 .to(dtype);
    values.narrow(0, 100, 4).copy_(edges);
    values.narrow(0, 69990, 4).copy_(edges);
    values.narrow(0, 500, 1).fill_(largest);
    values.narrow(0, 501, 1).fill_(-largest);
    values.narrow(0, 502, 1).fill_(subnormal);
    const auto reference = [](const at::Tensor& t) { return t.numel() - at::isfinite(t).sum().item<std::int64_t>(); };
    EXPECT_EQ(count_nonfinite(values), reference(values)) << c10::toString(dtype);
    EXPECT_EQ(count_nonfinite(values), 8) << c10::toString(dtype);
    const at::Tensor strided = values.narrow(0, 0, 70000).view({35000, 2}).select(1, 0);
    EXPECT_FALSE(strided.is_contiguous());
    EXPECT_EQ(count_nonfinite(strided), reference(strided)) << c10::toString(dtype);
  }
}

TEST_F(NonfiniteInputsTest, MergeStopsNamingTheModelTheTensorAndTheCount) {
  ladle::testing::write_text_file(dir_ / "merge.yml",
                                  "merge_method: linear\nmodels: [{model: a}, {model: nan}]\nparameters: {weight: 1}\n");
  const CommandResult result = run_ladle({"--quiet", "merge", path("merge.yml"), path("out")});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, message("model 'nan' (" + path("nan") + ")"))) << result.err;
  EXPECT_TRUE(contains(result.err, "--allow-nonfinite")) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

// (a + a·poisoned)/2: NaN where the input has it, a's values elsewhere.
TEST_F(NonfiniteInputsTest, MergeWithAllowNonfiniteKeepsThem) {
  ladle::testing::write_text_file(dir_ / "merge.yml",
                                  "merge_method: linear\nmodels: [{model: a}, {model: nan}]\nparameters: {weight: 1}\n");
  const CommandResult result = run_ladle({"--quiet", "merge", path("merge.yml"), path("out"), "--allow-nonfinite"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  expect_nan_only_at_the_poisoned_entry("out");
  const at::Tensor merged = io::CheckpointReader(path("out")).tensor("model.norm.weight");
  EXPECT_TRUE(at::allclose(merged, a_.at("model.norm.weight")));
}

TEST_F(NonfiniteInputsTest, SoupStopsNamingTheCandidate) {
  const CommandResult result = run_ladle({"--quiet", "soup", path("soup"), path("a"), path("nan")});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, message("candidate '" + path("nan") + "'"))) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "soup"));
  ASSERT_EQ(run_ladle({"--quiet", "soup", path("soup"), path("a"), path("nan"), "--allow-nonfinite"}).exit_code, 0);
  expect_nan_only_at_the_poisoned_entry("soup");
}

TEST_F(NonfiniteInputsTest, WiseFtStopsNamingTheModel) {
  const CommandResult result = run_ladle({"--quiet", "wise-ft", path("a"), path("nan"), path("wise"), "--alpha", "0.5"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, message("fine-tuned model '" + path("nan") + "'"))) << result.err;
  ASSERT_EQ(
      run_ladle({"--quiet", "wise-ft", path("a"), path("nan"), path("wise"), "--alpha", "0.5", "--allow-nonfinite"})
          .exit_code,
      0);
  expect_nan_only_at_the_poisoned_entry("wise");
}

// Issue 15: `--alpha 2` extrapolates past the fine-tuned model (ExPO): written, with a warning; θ = θ₀ + 2·(θ₁ − θ₀).
TEST(WiseFtAlpha, AlphaAboveOneExtrapolatesWithAWarning) {
  const fs::path dir = ladle::testing::make_temp_dir("wise-ft-alpha");
  ladle::testing::RandomLlamaOptions options;
  const NamedTensors base = ladle::testing::write_random_llama(dir / "base", options);
  options.seed = 2;
  const NamedTensors finetuned = ladle::testing::write_random_llama(dir / "ft", options);
  const CommandResult result = run_ladle(
      {"wise-ft", (dir / "base").string(), (dir / "ft").string(), (dir / "out").string(), "--alpha", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.err, "--alpha = 2 is outside [0, 1]: it extrapolates beyond the models")) << result.err;
  const NamedTensors written = io::CheckpointReader(dir / "out").load_all();
  for (const auto& [name, tensor] : base) {
    const at::Tensor expected = tensor + 2.0 * (finetuned.at(name) - tensor);
    EXPECT_TRUE(at::allclose(written.at(name), expected, 1e-5, 1e-5)) << name;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ladle
