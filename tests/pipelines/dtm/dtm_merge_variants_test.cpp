// DTM's merge variants (dtm.yml `merge_variants`, `size_weighted`): the mergekit configs a variant gives, checked
// against closed forms by merging random models with `ladle merge` (size-weighted linear over equal clusters is the
// plain average; task arithmetic with weight 1/K over the base is the plain average), and end to end on the tiny
// fixture: each variant is a merge of the same sub-models (computed here from their tensors and cluster sizes), a
// row of the report, and adding one to a finished experiment trains nothing and redoes no other merge. Vanilla's
// interpolations (`baselines.interpolation`) are merges too: base + α·(vanilla − base), computed here.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/lora.h"
#include "pipelines/dtm/dtm_config.h"
#include "tests/pipelines/dtm/dtm_fixture.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;
using ladle::testing::contains;
using ladle::testing::read_text_file;

void expect_close(const at::Tensor& actual, const at::Tensor& expected, const std::string& name,
                  double atol = 1e-7) {
  EXPECT_TRUE(at::allclose(actual, expected, 1e-6, atol))
      << name << ": largest difference " << (actual - expected).abs().max().item<double>();
}

// Random models merged by `ladle merge` with the configs DtmMergeMethod::yaml writes.
class DtmMergeMethodYaml : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("dtm-merge-yaml"); }
  void TearDown() override { fs::remove_all(dir_); }

  NamedTensors model(const std::string& name, std::uint64_t seed) {
    ladle::testing::RandomLlamaOptions options;
    options.seed = seed;
    return ladle::testing::write_random_llama(dir_ / name, options);
  }
  // Merges `models` with `method` into dir/<out> and returns the folder.
  fs::path merged(const DtmMergeMethod& method, const std::vector<std::string>& models,
                  const std::vector<std::int64_t>& sizes, const std::string& out) {
    std::vector<fs::path> folders;
    for (const auto& name : models) folders.push_back(dir_ / name);
    const fs::path yaml =
        ladle::testing::write_text_file(dir_ / (out + ".yml"), method.yaml(folders, sizes, dir_ / "base"));
    const auto result = ladle::testing::run_ladle({"--quiet", "merge", yaml.string(), (dir_ / out).string()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return dir_ / out;
  }

  fs::path dir_;
};

TEST_F(DtmMergeMethodYaml, SizeWeightsAreEachClustersShareOfTheRecords) {
  DtmMergeMethod method;
  method.size_weighted = true;
  const YAML::Node config = YAML::Load(method.yaml({"a", "b", "c"}, {10, 30, 60}, "base"));
  EXPECT_EQ(config["merge_method"].as<std::string>(), "linear");
  EXPECT_DOUBLE_EQ(config["models"][0]["parameters"]["weight"].as<double>(), 0.1);
  EXPECT_DOUBLE_EQ(config["models"][1]["parameters"]["weight"].as<double>(), 0.3);
  EXPECT_DOUBLE_EQ(config["models"][2]["parameters"]["weight"].as<double>(), 0.6);
  EXPECT_FALSE(config["base_model"]) << "linear takes no base";
}

TEST_F(DtmMergeMethodYaml, SizeWeightedOverEqualClustersIsThePlainAverage) {
  const NamedTensors a = model("a", 1), b = model("b", 2);
  DtmMergeMethod size_weighted;
  size_weighted.size_weighted = true;
  const io::CheckpointReader plain(merged(DtmMergeMethod{}, {"a", "b"}, {7, 7}, "plain"));
  const io::CheckpointReader weighted(merged(size_weighted, {"a", "b"}, {7, 7}, "weighted"));
  for (const auto& [name, tensor] : a) {
    expect_close(plain.tensor(name), (tensor + b.at(name)) / 2, "plain " + name);
    expect_close(weighted.tensor(name), plain.tensor(name), "size-weighted " + name);
  }
}

// θ_base + Σ_j (1/K)·(θ_j − θ_base) = (1/K)·Σ_j θ_j.
TEST_F(DtmMergeMethodYaml, TaskArithmeticWithWeightOneOverKOverTheBaseIsThePlainAverage) {
  model("base", 9);
  const NamedTensors a = model("a", 1), b = model("b", 2), c = model("c", 3);
  DtmMergeMethod task_arithmetic;
  task_arithmetic.merge_method = "task_arithmetic";
  task_arithmetic.model_parameters = "{weight: 0.3333333333333333}";
  const fs::path folder = merged(task_arithmetic, {"a", "b", "c"}, {1, 2, 3}, "ta");
  EXPECT_TRUE(contains(read_text_file(dir_ / "ta.yml"), "base_model: " + (dir_ / "base").string()));
  const io::CheckpointReader result(folder);
  for (const auto& [name, tensor] : a) {
    // float32: each θ_j − θ_base is rounded at the scale of the N(0, 1) entries (up to ~4, a ulp of 4.8e-7).
    expect_close(result.tensor(name), (tensor + b.at(name) + c.at(name)) / 3, name, 1e-6);
  }
}

TEST(DtmMergeVariants, BadVariantsAreRejectedNamingTheEntry) {
  const DtmFixture fixture("dtm-variant-config", kNoBaselines);
  const std::string head = "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}}\n"
                           "evaluation: {valid: valid.jsonl}\n";
  EXPECT_EQ(dtm_config_error(fixture, head + "merge_variants:\n  - {name: ties, merge_method: ties, parameters: "
                                         "{lambda: 1}, model_parameters: {weight: 0.5, density: 0.5}}\n"),
            "(accepted)");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"merge_variants: {name: x}\n", "dtm.yml:3: merge_variants: expected a list of named merges"},
      {"merge_variants:\n  - {merge_method: linear}\n", "merge_variants[0].name: a required key is missing"},
      {"merge_variants:\n  - {name: a, merge_methd: ties}\n",
       "dtm.yml:4: merge_variants[0].merge_methd: unknown key (did you mean 'merge_method'?)"},
      {"merge_variants:\n  - {name: a b}\n", "merge_variants[0]: name: expected letters, digits, '_' and '-'"},
      {"merge_variants:\n  - {name: x-seed2}\n", "(not ending in -seed<digits>), got 'x-seed2'"},
      {"merge_variants:\n  - {name: a}\n  - {name: a}\n", "dtm.yml:5: merge_variants[1]: name: 'a' is given twice"},
      {"merge_variants:\n  - {name: a, merge_method: averaging}\n", "dtm.yml:4: merge_variants[0]: "},
      {"merge_variants:\n  - {name: a, size_weighted: true, model_parameters: {weight: 2}}\n",
       "merge_variants[0]: size_weighted sets every sub-model's weight to its cluster's share: remove "
       "model_parameters.weight"},
      {"merge: {size_weighted: true, model_parameters: {weight: 2}}\n", "dtm.yml:3: merge: size_weighted sets"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string message = dtm_config_error(fixture, head + text);
    EXPECT_TRUE(contains(message, expected)) << "config:\n" << text << "message: " << message;
  }
}

NamedTensors weights_of(const fs::path& folder) { return model::load_causal_lm(folder)->hf_state_dict(); }

// K = 2 over both splits, two variants: the size-weighted average (the DTM authors' mix_ratio) and task arithmetic
// with weight 1/2 over the base; then a third variant added to the finished experiment.
TEST(DtmMergeVariants, EachVariantMergesTheSameSubModelsIntoARowOfItsOwn) {
  const DtmFixture fixture("dtm-variants", "{vanilla: false, random_split: true, uniform_soup: false}");
  const std::string variants =
      "merge_variants:\n"
      "  - {name: mix-ratio, size_weighted: true}\n"
      "  - {name: ta-half, merge_method: task_arithmetic, model_parameters: {weight: 0.5}}\n";
  std::ofstream(fixture.dir / "dtm.yml", std::ios::app) << variants;
  const auto first = fixture.dtm();
  ASSERT_EQ(first.exit_code, 0) << first.err;

  const NamedTensors base = weights_of(fixture.dir / "base");
  for (const std::string split : {"kmeans", "random"}) {
    const NamedTensors a = weights_of(fixture.out("runs/" + split + "-0/final"));
    const NamedTensors b = weights_of(fixture.out("runs/" + split + "-1/final"));
    const double n0 = static_cast<double>(line_count(fixture.out("cluster/" + split + "/cluster-0.jsonl")));
    const double n1 = static_cast<double>(line_count(fixture.out("cluster/" + split + "/cluster-1.jsonl")));
    const NamedTensors mix = weights_of(fixture.out("merge/variants/mix-ratio/" + split));
    const NamedTensors half = weights_of(fixture.out("merge/variants/ta-half/" + split));
    for (const auto& [name, tensor] : a) {
      expect_close(mix.at(name), (n0 * tensor + n1 * b.at(name)) / (n0 + n1), split + " mix-ratio " + name);
      expect_close(half.at(name), base.at(name) + 0.5 * (tensor - base.at(name)) + 0.5 * (b.at(name) - base.at(name)),
                   split + " ta-half " + name, 1e-6);
    }
  }
  const std::string report = read_text_file(fixture.out("report/report.md"));
  for (const char* row : {"| DTM (k-means) |", "| DTM (k-means, mix-ratio) |", "| DTM (k-means, ta-half) |",
                          "| DTM (random) |", "| DTM (random, mix-ratio) |", "| DTM (random, ta-half) |"}) {
    EXPECT_TRUE(contains(report, row)) << row << " missing from\n" << report;
  }
  EXPECT_TRUE(fs::exists(fixture.out("evaluate/dtm-kmeans/ta-half.json")));

  std::map<std::string, fs::file_time_type> written;
  for (const std::string part : {"runs/kmeans-0/dtm-run.json", "merge/kmeans/dtm-fingerprint",
                                 "merge/variants/mix-ratio/kmeans/dtm-fingerprint", "evaluate/dtm-kmeans.json",
                                 "evaluate/dtm-random/ta-half.json"}) {
    written[part] = fs::last_write_time(fixture.out(part));
  }
  std::ofstream(fixture.dir / "dtm.yml", std::ios::app) << "  - {name: ties, merge_method: ties, "
                                                           "model_parameters: {weight: 0.5, density: 0.5}}\n";
  const auto second = fixture.dtm();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(contains(second.err, "0 of 4 runs to train")) << second.err;
  for (const auto& [part, time] : written) EXPECT_EQ(fs::last_write_time(fixture.out(part)), time) << part;
  EXPECT_TRUE(contains(read_text_file(fixture.out("report/report.md")), "| DTM (k-means, ties) |"));
}

// baselines.interpolation: vanilla's WiSE-FT points base + α·(vanilla − base), one row each; a config that asks for
// them without vanilla, or outside [0, 1], is refused naming the key.
TEST(DtmMergeVariants, InterpolationsLieOnTheLineFromTheBaseToVanilla) {
  const DtmFixture fixture("dtm-interpolation",
                           "{vanilla: true, random_split: false, uniform_soup: false, interpolation: [0.25, 0.5]}");
  const auto result = fixture.dtm();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NamedTensors base = weights_of(fixture.dir / "base");
  const NamedTensors vanilla = weights_of(fixture.out("runs/vanilla/final"));
  for (const double alpha : {0.25, 0.5}) {
    const std::string row = alpha == 0.25 ? "wise-ft-0.25" : "wise-ft-0.5";
    const NamedTensors point = weights_of(fixture.out("merge/" + row));
    ASSERT_EQ(point.names(), base.names());
    for (const auto& [name, tensor] : point) {
      expect_close(tensor, base.at(name) + alpha * (vanilla.at(name) - base.at(name)), row + " " + name, 1e-6);
    }
    EXPECT_TRUE(fs::exists(fixture.out("evaluate/" + row + ".json"))) << row;
  }
  const std::string report = read_text_file(fixture.out("report/report.md"));
  for (const char* row : {"| WiSE-FT of vanilla (α=0.25) |", "| WiSE-FT of vanilla (α=0.5) |"}) {
    EXPECT_TRUE(contains(report, row)) << row << " missing from\n" << report;
  }

  const std::string head =
      "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}}\n"
      "evaluation: {valid: valid.jsonl}\n";
  EXPECT_TRUE(contains(dtm_config_error(fixture, head + "baselines: {vanilla: false, interpolation: [0.5]}\n"),
                       "baselines.interpolation: interpolates between the base and vanilla: turn on "
                       "baselines.vanilla"));
  EXPECT_TRUE(contains(dtm_config_error(fixture, head + "baselines: {interpolation: [1.5]}\n"),
                       "baselines.interpolation"));
}

// LoRA sub-models: a variant merges in ΔW space as the DTM merge does, W + Σ_j (n_j / N)·ΔW_j for mix_ratio.
TEST(DtmMergeVariants, LoraSubModelsMergeTheirUpdatesBySize) {
  const DtmFixture fixture("dtm-variants-lora", kNoBaselines,
                           "  lora: {enabled: true, r: 2, alpha: 4, target_modules: [q_proj]}\n");
  std::ofstream(fixture.dir / "dtm.yml", std::ios::app) << "merge_variants: [{name: mix-ratio, size_weighted: true}]\n";
  const auto result = fixture.dtm();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NamedTensors base = weights_of(fixture.dir / "base");
  const model::LoraAdapter a = model::read_lora_adapter(fixture.out("runs/kmeans-0/final/adapter"));
  const model::LoraAdapter b = model::read_lora_adapter(fixture.out("runs/kmeans-1/final/adapter"));
  const double n0 = static_cast<double>(line_count(fixture.out("cluster/kmeans/cluster-0.jsonl")));
  const double n1 = static_cast<double>(line_count(fixture.out("cluster/kmeans/cluster-1.jsonl")));
  auto delta = [](const model::LoraAdapter& adapter, const std::string& module) {
    return at::matmul(adapter.tensors.at("base_model.model." + module + ".lora_B.weight"),
                      adapter.tensors.at("base_model.model." + module + ".lora_A.weight")) *
           (adapter.options.alpha / static_cast<double>(adapter.options.r));
  };
  for (const auto& [name, tensor] : weights_of(fixture.out("merge/variants/mix-ratio/kmeans"))) {
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    const bool adapted = a.tensors.contains("base_model.model." + module + ".lora_A.weight");
    expect_close(tensor,
                 adapted ? base.at(name) + (n0 * delta(a, module) + n1 * delta(b, module)) / (n0 + n1) : base.at(name),
                 name);
  }
}

}  // namespace
}  // namespace ladle::dtm
