// Uniform and greedy soups: closed forms, the greedy accept/reject rule on constructed scores, and folders streamed
// through CheckpointReader.
#include "callbacks/model_soup.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

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

// A one-tensor "model" whose weight is [v, −v].
NamedTensors model_of(float v) {
  NamedTensors model;
  model.insert("w", floats({v, -v}));
  return model;
}

std::vector<const NamedTensors*> pointers(const std::vector<NamedTensors>& models) {
  std::vector<const NamedTensors*> result;
  for (const auto& model : models) result.push_back(&model);
  return result;
}

TEST(UniformSoup, IsTheMeanOfTheCandidatesInTheFirstCandidatesDtype) {
  NamedTensors a, b, c;
  a.insert("w", floats({1, 2}).to(at::kBFloat16));
  a.insert("steps", at::tensor({7}, at::kLong));
  b.insert("w", floats({3, 4}));
  b.insert("steps", at::tensor({8}, at::kLong));
  c.insert("w", floats({8, 0}));
  c.insert("steps", at::tensor({9}, at::kLong));
  const NamedTensors soup = uniform_soup({&a, &b, &c});
  EXPECT_EQ(soup.at("w").scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(soup.at("w").to(at::kFloat), floats({4, 2})));
  EXPECT_EQ(soup.at("steps").item<std::int64_t>(), 7);  // non-floating tensors: the first candidate's
}

TEST(UniformSoup, RejectsCandidatesOfAnotherLayout) {
  NamedTensors a = model_of(1), b;
  b.insert("v", floats({1, 2}));
  EXPECT_TRUE(contains(error_message([&] { uniform_soup({&a, &b}); }), "candidate 1"));
}

// Scores by the soup's first weight: individual scores order the candidates A (0), B (4), D (5), C (14).
// Soup {A} scores 0.9; {A, B} = 2 scores 0.95 (better: kept); {A, B, D} = 3 scores 0.97 (better: kept);
// {A, B, D, C} = 5.75 scores 0.97 (equal, not strictly better: rejected).
double constructed_score(const NamedTensors& weights) {
  static const std::map<float, double> scores = {{0.0f, 0.9}, {4.0f, 0.8}, {14.0f, 0.6}, {5.0f, 0.7},
                                                 {2.0f, 0.95}, {3.0f, 0.97}, {5.75f, 0.97}};
  const float key = weights.at("w")[0].item<float>();
  const auto found = scores.find(key);
  if (found == scores.end()) throw std::runtime_error("no score for a soup with w[0] = " + std::to_string(key));
  return found->second;
}

TEST(GreedySoup, AddsACandidateOnlyWhenTheSoupScoreStrictlyImproves) {
  // Given in the order C, A, D, B (indices 0..3).
  const std::vector<NamedTensors> candidates = {model_of(14), model_of(0), model_of(5), model_of(4)};
  const GreedySoupResult result = greedy_soup(pointers(candidates), constructed_score);
  ASSERT_EQ(result.steps.size(), 4u);
  EXPECT_EQ(result.steps[0].candidate, 1u);  // A: best individual score, the first ingredient
  EXPECT_EQ(result.steps[1].candidate, 3u);  // B
  EXPECT_EQ(result.steps[2].candidate, 2u);  // D
  EXPECT_EQ(result.steps[3].candidate, 0u);  // C
  EXPECT_TRUE(result.steps[1].accepted);
  EXPECT_TRUE(result.steps[2].accepted);
  EXPECT_FALSE(result.steps[3].accepted);
  EXPECT_EQ(*result.steps[3].soup_score, 0.97);
  EXPECT_EQ(result.ingredients, (std::vector<std::size_t>{1, 3, 2}));
  EXPECT_EQ(result.score, 0.97);
  EXPECT_TRUE(at::equal(result.weights.at("w"), floats({3, -3})));
}

TEST(GreedySoup, LowerIsBetterTakesLossesDirectly) {
  const std::vector<NamedTensors> candidates = {model_of(14), model_of(0), model_of(5), model_of(4)};
  GreedySoupOptions options;
  options.higher_is_better = false;
  const GreedySoupResult result =
      greedy_soup(pointers(candidates), [](const NamedTensors& w) { return -constructed_score(w); }, options);
  EXPECT_EQ(result.ingredients, (std::vector<std::size_t>{1, 3, 2}));
  EXPECT_EQ(result.score, -0.97);
}

TEST(GreedySoup, ResultEqualsTheUniformSoupOfItsIngredients) {
  at::manual_seed(3);
  std::vector<NamedTensors> candidates(5);
  for (auto& candidate : candidates) {
    candidate.insert("a", at::randn({7, 3}));
    candidate.insert("b", at::randn({11}).to(at::kBFloat16));
  }
  // Closeness to a target that the mean of candidates 0, 2 and 3 approaches.
  const at::Tensor target = (candidates[0].at("a") + candidates[2].at("a") + candidates[3].at("a")) / 3;
  const auto score = [&](const NamedTensors& w) { return -(w.at("a") - target).norm().item<double>(); };
  const GreedySoupResult result = greedy_soup(pointers(candidates), score);
  ASSERT_GE(result.ingredients.size(), 2u);
  std::vector<const NamedTensors*> ingredients;
  for (const std::size_t index : result.ingredients) ingredients.push_back(&candidates[index]);
  const NamedTensors uniform = uniform_soup(ingredients);
  EXPECT_TRUE(at::equal(result.weights.at("a"), uniform.at("a")));
  EXPECT_TRUE(at::equal(result.weights.at("b"), uniform.at("b")));
}

class SoupFolders : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("soup-folders");
    at::manual_seed(5);
    for (int i = 0; i < 3; ++i) {
      NamedTensors model;
      model.insert("model.embed_tokens.weight", at::randn({6, 4}));
      model.insert("model.norm.weight", at::randn({4}));
      models_.push_back(model);
      paths_.push_back(dir_ + "/m" + std::to_string(i));
      io::save_checkpoint(paths_.back(), model, nlohmann::json{{"model_type", "llama"}, {"index", i}});
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::vector<NamedTensors> models_;
  std::vector<std::filesystem::path> paths_;
};

TEST_F(SoupFolders, StreamedUniformSoupEqualsTheInMemoryOneWithTheFirstConfig) {
  const auto output = uniform_soup(paths_, dir_ + "/soup");
  const io::CheckpointReader reader(output);
  const NamedTensors expected = uniform_soup(pointers(models_));
  for (const auto& [name, tensor] : expected) EXPECT_TRUE(at::equal(reader.tensor(name), tensor)) << name;
  ASSERT_TRUE(reader.config().has_value());
  EXPECT_EQ(reader.config()->at("index"), 0);
}

TEST_F(SoupFolders, GreedySoupOfFoldersEqualsTheInMemoryOne) {
  const auto score = [](const NamedTensors& w) { return w.at("model.norm.weight").sum().item<double>(); };
  const GreedySoupResult from_folders = greedy_soup(paths_, score);
  const GreedySoupResult in_memory = greedy_soup(pointers(models_), score);
  EXPECT_EQ(from_folders.ingredients, in_memory.ingredients);
  for (const auto& [name, tensor] : in_memory.weights) EXPECT_TRUE(at::equal(from_folders.weights.at(name), tensor));
}

}  // namespace
}  // namespace ladle::callbacks
