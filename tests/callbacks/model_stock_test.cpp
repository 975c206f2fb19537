// Model Stock over two fine-tunes and the base through the merge engine's model_stock method.
#include "callbacks/model_stock.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;
using ladle::testing::floats;

// Task vectors τ1 = (1, 0) and τ2 = (1/2, √3/2) have cosine 1/2, so Jang et al.'s ratio for N = 2 is
// t = 2·(1/2) / (1 + 1/2) = 2/3 and θ = θ0 + t·(τ1 + τ2)/2 = θ0 + (1/2, √3/6).
TEST(ModelStock, InterpolatesTowardsTheFinetunesByTheCosineRatio) {
  NamedTensors base, first, second;
  base.insert("w", floats({1, 2}));
  first.insert("w", floats({2, 2}));
  second.insert("w", floats({1.5f, 2 + static_cast<float>(std::sqrt(3.0) / 2)}));
  const NamedTensors merged = model_stock_merge(base, {&first, &second});
  EXPECT_NEAR(merged.at("w")[0].item<double>(), 1.5, 1e-6);
  EXPECT_NEAR(merged.at("w")[1].item<double>(), 2 + std::sqrt(3.0) / 6, 1e-6);
}

TEST(ModelStock, NeedsTwoFinetunes) {
  NamedTensors base, first;
  base.insert("w", floats({1}));
  first.insert("w", floats({2}));
  EXPECT_TRUE(contains(error_message([&] { model_stock_merge(base, {&first}); }), "at least two fine-tunes"));
}

TEST(ModelStock, FoldersStreamedEqualTheInMemoryMerge) {
  const std::string dir = ladle::testing::make_temp_dir("model-stock");
  at::manual_seed(4);
  std::vector<NamedTensors> models(3);
  for (std::size_t i = 0; i < models.size(); ++i) {
    models[i].insert("model.layers.0.mlp.up_proj.weight", at::randn({6, 4}));
    models[i].insert("model.norm.weight", at::randn({4}));
    io::save_checkpoint(dir + "/m" + std::to_string(i), models[i], nlohmann::json{{"model_type", "llama"}});
  }
  const auto output = model_stock_merge(dir + "/m0", {dir + "/m1", dir + "/m2"}, dir + "/stock");
  const NamedTensors expected = model_stock_merge(models[0], {&models[1], &models[2]});
  const io::CheckpointReader reader(output);
  for (const auto& [name, tensor] : expected) EXPECT_TRUE(at::equal(reader.tensor(name), tensor)) << name;
  EXPECT_TRUE(reader.config().has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ladle::callbacks
