// `ladle evolve` on tiny Llama folders over the byte tokenizer: the genome's recipe, the in-memory merge against
// `ladle merge` of the written recipe, resume after a stop, scoring on several workers, and config errors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/io/checkpoint_reader.h"
#include "lib/merge/input_models.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_executor.h"
#include "lib/merge/merge_plan.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "pipelines/evolve/evolve_config.h"
#include "pipelines/evolve/evolve_run.h"
#include "pipelines/evolve/merge_genome.h"

namespace ladle::evolve {
namespace {

namespace fs = std::filesystem;
using ladle::testing::read_text_file;
using ladle::testing::run_ladle;

// Every line of candidates.jsonl without its timings.
std::vector<nlohmann::json> candidates(const fs::path& path) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(read_text_file(path));
  for (std::string line; std::getline(in, line);) {
    auto entry = nlohmann::json::parse(line);
    entry.erase("seconds");
    entry.erase("merge_seconds");
    lines.push_back(entry);
  }
  return lines;
}

class EvolveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("evolve");
    for (std::uint64_t seed = 0; seed < 3; ++seed) {
      model::save_causal_lm(*trainer::testing::tiny_model(0.0, seed), path("m" + std::to_string(seed)));
    }
    trainer::testing::write_jsonl(path("fitness.jsonl"), trainer::testing::tiny_records(4, 100));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // A ties search over m1 and m2 onto m0: weight and density per model, as a 2-point layer gradient. `fitness`:
  // more keys of the fitness mapping.
  std::string config_text(const std::string& output, const std::string& extra = "",
                          const std::string& fitness = "") const {
    return "output_dir: " + output + "\n" +
           "merge:\n"
           "  merge_method: ties\n"
           "  base_model: m0\n"
           "  models:\n"
           "    - model: m1\n"
           "    - model: m2\n"
           "  parameters: {normalize: true}\n"
           "  dtype: float32\n"
           "genome:\n"
           "  weight: {min: 0, max: 1, initial: 0.5}\n"
           "  density: {min: 0.1, max: 1, initial: 0.5}\n"
           "  layer_groups: 2\n"
           "fitness: {data: fitness.jsonl, tokenizer: byte, batch_size: 8" + fitness + "}\n" +
           "search: {seed: 3, max_evaluations: 20, population: 4}\n" + extra;
  }
  EvolveConfig config(const std::string& output, const std::string& extra = "", const std::string& fitness = "") const {
    return EvolveConfig::from_yaml(config_text(output, extra, fitness), "evolve.yml", dir_);
  }
  void expect_rejected(const std::string& text, const std::string& message,
                       const std::vector<std::string>& overrides = {}) const {
    try {
      EvolveConfig::from_yaml(text, "evolve.yml", dir_, overrides);
      ADD_FAILURE() << "accepted; expected an error containing: " << message;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(message), std::string::npos) << error.what();
    }
  }

  std::string dir_;
};

TEST_F(EvolveTest, GenomeSetsEveryModelsSearchedParametersAsLayerGradients) {
  const MergeGenome genome(config("out"));
  ASSERT_EQ(genome.size(), 8u);  // 2 models x 2 parameters x 2 layer groups
  EXPECT_EQ(genome.gene_names()[3], "models[0].density[1]");
  const std::vector<double> point{0.0, 1.0, 0.0, 0.5, 0.25, 0.25, 1.0, 1.0};
  const merge::MergeConfig recipe = merge::parse_merge_config(genome.recipe_yaml(point), "recipe", dir_);
  ASSERT_EQ(recipe.models.size(), 2u);
  auto values = [&](std::size_t model, const std::string& name) {
    return recipe.models[model].parameters.at(name).entries[0].value.values;
  };
  auto expect_near = [](const std::vector<double>& actual, const std::vector<double>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-15) << i;
  };
  expect_near(values(0, "weight"), {0.0, 1.0});
  expect_near(values(0, "density"), {0.1, 0.55});  // min + u (max - min) = 0.1 + u 0.9
  expect_near(values(1, "weight"), {0.25, 0.25});
  expect_near(values(1, "density"), {1.0, 1.0});
  EXPECT_EQ(recipe.parameters.at("normalize").entries[0].value.values, (std::vector<double>{1.0}));
  EXPECT_EQ(recipe.base_model->path, fs::path(path("m0")).lexically_normal());
}

TEST_F(EvolveTest, InMemoryMergeOfAGenomeEqualsLadleMergeOfTheRecipeItWrites) {
  const MergeGenome genome(config("out"));
  const std::vector<double> point{0.3, 0.9, 0.2, 0.7, 0.6, 0.1, 0.45, 0.95};
  const std::string recipe_text = genome.recipe_yaml(point);
  const merge::MergeConfig recipe = merge::parse_merge_config(recipe_text, "recipe", dir_);
  const merge::InputModels models(recipe);
  const NamedTensors in_memory = merge::merge_into_tensors(merge::plan_merge(recipe, models), models);

  ladle::testing::write_text_file(path("recipe.yml"), recipe_text);
  const auto result = run_ladle({"--quiet", "merge", path("recipe.yml"), path("merged")});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NamedTensors on_disk = io::CheckpointReader(path("merged")).load_all();
  ASSERT_EQ(in_memory.size(), on_disk.size());
  for (const auto& [name, tensor] : on_disk) EXPECT_TRUE(at::equal(in_memory.at(name), tensor)) << name;
}

TEST_F(EvolveTest, ResumedAfterAStopReachesTheUninterruptedResult) {
  std::vector<std::string> progress;
  EvolveRunOptions options;
  options.progress = [&](const std::string& line) { progress.push_back(line); };
  const EvolveOutcome whole = run_evolve(config(path("whole")), options);
  ASSERT_TRUE(whole.finished);
  EXPECT_EQ(whole.evaluations, 20);
  EXPECT_EQ(progress.size(), 5u);
  EXPECT_NE(progress.front().find("generation 1: best "), std::string::npos) << progress.front();
  EXPECT_NE(progress.front().find("sigma"), std::string::npos);

  // The CLI stops after two generations, as a kill would leave the run, then resumes.
  ladle::testing::write_text_file(path("evolve.yml"), config_text("parts"));
  const auto first = run_ladle({"--quiet", "evolve", "--config", path("evolve.yml"), "--stop-after-generations", "2"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_FALSE(fs::exists(path("parts/recipe.yml")));
  EXPECT_EQ(candidates(path("parts/candidates.jsonl")).size(), 8u);
  const auto second = run_ladle({"--quiet", "evolve", "--config", path("evolve.yml")});
  ASSERT_EQ(second.exit_code, 0) << second.err;

  EXPECT_EQ(read_text_file(path("parts/recipe.yml")), whole.best_recipe);
  EXPECT_EQ(read_text_file(path("parts/recipe.yml")), read_text_file(path("whole/recipe.yml")));
  EXPECT_EQ(candidates(path("parts/candidates.jsonl")), candidates(path("whole/candidates.jsonl")));
  const NamedTensors a = io::CheckpointReader(path("parts/model")).load_all();
  const NamedTensors b = io::CheckpointReader(path("whole/model")).load_all();
  trainer::testing::expect_bitwise_equal(a, b);
}

TEST_F(EvolveTest, TwoWorkersScoreEveryCandidateAsOneWorkerDoes) {
  EvolveRunOptions options;
  options.write_model = false;
  options.progress = [](const std::string&) {};
  // bf16 takes oneDNN's matmul, which allocates through ATen's raw allocator: scorings must not overlap a merge.
  const EvolveOutcome one = run_evolve(config(path("one"), "", ", workers: 1, bf16: true"), options);
  const EvolveOutcome two = run_evolve(config(path("two"), "", ", workers: 2, bf16: true"), options);
  ASSERT_TRUE(one.finished);
  ASSERT_TRUE(two.finished);
  // The lines in candidate order with the same fitness, bit for bit, so CMA-ES took the same steps.
  EXPECT_EQ(candidates(path("two/candidates.jsonl")), candidates(path("one/candidates.jsonl")));
  EXPECT_EQ(candidates(path("one/candidates.jsonl")).size(), 20u);
  EXPECT_EQ(two.best_fitness, one.best_fitness);
  EXPECT_EQ(two.best_point, one.best_point);
  EXPECT_EQ(read_text_file(path("two/result.json")), read_text_file(path("one/result.json")));
}

TEST_F(EvolveTest, ACandidateThatCannotBeScoredStopsTheRunWithItsError) {
  EvolveRunOptions options;
  options.progress = [](const std::string&) {};
  // No task keeps a weight, so every candidate's score throws, on both workers.
  try {
    run_evolve(config(path("out"), "", ", workers: 2, default_task_weight: 0"), options);
    ADD_FAILURE() << "the run succeeded";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("has a weight > 0"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(fs::exists(path("out/state.json")));
}

TEST_F(EvolveTest, StateOfAnotherConfigIsNotResumed) {
  EvolveRunOptions options;
  options.stop_after_generations = 1;
  options.progress = [](const std::string&) {};
  run_evolve(config(path("out")), options);
  EXPECT_THROW(run_evolve(config(path("out"), "merge_seed: 5\n"), options), Error);
  const auto overridden = EvolveConfig::from_yaml(config_text(path("out")), "evolve.yml", dir_, {"merge_seed=5"});
  EXPECT_THROW(run_evolve(overridden, options), Error) << "a --set value is part of the config a resume must match";
}

TEST_F(EvolveTest, RejectsBadConfigsNamingTheKeyAndLine) {
  expect_rejected(config_text("out", "serach: {seed: 1}\n"),
                  "evolve.yml:16: serach: unknown key (did you mean 'search'?)");
  expect_rejected(config_text("out", "merge_seed: -1\n"), "merge_seed: expected a whole number >= 0");
  expect_rejected(config_text("out", "", ", workers: -1"), "fitness.workers: expected a whole number >= 0");
  std::string text = config_text("out");
  expect_rejected(std::string(text).replace(text.find("min: 0.1"), 8, "min: 2"), "genome.density: min must be below max");
  expect_rejected(std::string(text).replace(text.find("merge_method: ties"), 18, "merge_method: linear"),
                  "linear has no per-model parameter 'density'");
  expect_rejected(std::string(text).replace(text.find("    - model: m2"), 15, "    - {model: m2, parameters: {weight: 1}}"),
                  "merge.models[1].parameters.weight: is searched by the genome");
  expect_rejected(std::string(text).replace(text.find("fitness: {"), 10, "fitness: {metric: bleu, "),
                  "fitness.metric: expected one of loss, exact_match, choice_accuracy, got 'bleu'");
  expect_rejected(std::string(text).replace(text.find("seed: 3, "), 9, "sigma: 0, "),
                  "search.sigma: expected a number > 0, got 0");
  expect_rejected(std::string(text).replace(text.find("dtype: float32"), 14, "dtype: float7"), "merge: ");
}

TEST_F(EvolveTest, ErrorOfASetValueNamesTheSetArgument) {
  const std::string text = config_text("out");
  expect_rejected(text, "--set search.sigma=0: search.sigma: expected a number > 0, got 0", {"search.sigma=0"});
  expect_rejected(text, "--set fitness.batch_sise=2: fitness.batch_sise: unknown key (did you mean 'batch_size'?)",
                  {"fitness.batch_sise=2"});
  ladle::testing::write_text_file(path("evolve.yml"), text);
  const auto set = ladle::testing::run_ladle({"evolve", "--config", path("evolve.yml"), "--set", "search.sigma=-1"});
  EXPECT_EQ(set.exit_code, 1);
  EXPECT_TRUE(ladle::testing::contains(set.err, "--set search.sigma=-1: search.sigma: expected a number > 0, got -1"))
      << set.err;
}

}  // namespace
}  // namespace ladle::evolve
