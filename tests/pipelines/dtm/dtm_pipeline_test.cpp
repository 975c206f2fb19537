// `ladle dtm` end to end on a tiny Llama over the byte tokenizer and 24 tiny records, K = 2: the merged model is
// the mean of the sub-models (computed here from the sub-models' own tensors), LoRA sub-models merge as the mean
// of their ΔW = (α/r)·B·A, a second run reuses every stage, an interrupted run resumes from its checkpoint to the
// same weights, an edited config redoes the stages it reaches (and only those), the merge names the runs it waits
// for, the merge can take the averages the runs kept (merge.weights), and bad configs are rejected naming the key.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/lora.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/pipelines/dtm/dtm_fixture.h"
#include "tests/support/tiny_run.h"
#include "pipelines/dtm/dtm_config.h"

namespace ladle::dtm {
namespace {

using ladle::testing::read_text_file;

namespace fs = std::filesystem;
using ladle::testing::contains;

NamedTensors weights_of(const fs::path& folder) { return model::load_causal_lm(folder)->hf_state_dict(); }

void expect_close(const at::Tensor& actual, const at::Tensor& expected, const std::string& name) {
  EXPECT_TRUE(at::allclose(actual, expected, 1e-6, 1e-7))
      << name << ": largest difference " << (actual - expected).abs().max().item<double>();
}


// One pipeline with every baseline, shared by the tests that only read its output.
class DtmPipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ = new DtmFixture("dtm-pipeline", "{vanilla: true, random_split: true, uniform_soup: true}");
    first_ = fixture_->dtm({"--jobs", "2"});
  }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }
  static DtmFixture* fixture_;
  static ladle::testing::CommandResult first_;
};
DtmFixture* DtmPipelineTest::fixture_ = nullptr;
ladle::testing::CommandResult DtmPipelineTest::first_;

TEST_F(DtmPipelineTest, MergedModelIsTheMeanOfTheSubModels) {
  ASSERT_EQ(first_.exit_code, 0) << first_.err;
  for (const std::string split : {"kmeans", "random"}) {
    const NamedTensors a = weights_of(fixture_->out("runs/" + split + "-0/final"));
    const NamedTensors b = weights_of(fixture_->out("runs/" + split + "-1/final"));
    const NamedTensors merged = weights_of(fixture_->out("merge/" + split));
    ASSERT_EQ(merged.names(), a.names());
    EXPECT_FALSE(at::equal(a.at("model.layers.0.mlp.up_proj.weight"), b.at("model.layers.0.mlp.up_proj.weight")))
        << "the sub-models trained on different clusters";
    for (const auto& [name, tensor] : merged) expect_close(tensor, (a.at(name) + b.at(name)) / 2, split + " " + name);
  }
  const NamedTensors s0 = weights_of(fixture_->out("runs/soup-0/final"));
  const NamedTensors s1 = weights_of(fixture_->out("runs/soup-1/final"));
  for (const auto& [name, tensor] : weights_of(fixture_->out("merge/soup"))) {
    expect_close(tensor, (s0.at(name) + s1.at(name)) / 2, "soup " + name);
  }
}

TEST_F(DtmPipelineTest, BaselinesGetTheSameComputeAndTheReportTabulatesEveryModel) {
  ASSERT_EQ(first_.exit_code, 0) << first_.err;
  for (const std::string split : {"kmeans", "random"}) {
    const std::size_t c0 = line_count(fixture_->out("cluster/" + split + "/cluster-0.jsonl"));
    const std::size_t c1 = line_count(fixture_->out("cluster/" + split + "/cluster-1.jsonl"));
    EXPECT_EQ(c0 + c1, 24u) << split;
    // Steps in proportion to the cluster sizes, at least one each.
    const auto steps0 = fixture_->run_record(split + "-0")["steps"].get<std::int64_t>();
    EXPECT_EQ(steps0, std::max<std::int64_t>(1, std::llround(8.0 * static_cast<double>(c0) / 24.0))) << split;
  }
  const auto steps = [&](const std::string& run) { return fixture_->run_record(run)["steps"].get<std::int64_t>(); };
  const std::int64_t dtm_total = steps("kmeans-0") + steps("kmeans-1");
  EXPECT_EQ(steps("vanilla"), dtm_total);
  EXPECT_EQ(steps("random-0") + steps("random-1"), dtm_total);
  EXPECT_EQ(steps("soup-0") + steps("soup-1"), dtm_total);
  EXPECT_NE(fixture_->run_record("soup-0")["seed"], fixture_->run_record("soup-1")["seed"]);

  const std::string report = read_text_file(fixture_->out("report/report.md"));
  for (const char* part : {"| base |", "| vanilla |", "| DTM (k-means) |", "| DTM (random) |", "| uniform soup |",
                           "| add |", "| echo |", "mean over tasks", "ratio"}) {
    EXPECT_TRUE(contains(report, part)) << part << " missing from\n" << report;
  }
  EXPECT_TRUE(contains(first_.out, "| DTM (k-means) |")) << "the table is printed at the end";
  const auto evaluation = nlohmann::json::parse(read_text_file(fixture_->out("evaluate/dtm-kmeans.json")));
  EXPECT_TRUE(evaluation["metrics"].contains("valid/loss/add"));
}

TEST(DtmPipeline, RerunSkipsFinishedStages) {
  const DtmFixture fixture("dtm-rerun", "{vanilla: true, random_split: false, uniform_soup: false}");
  ASSERT_EQ(fixture.dtm().exit_code, 0);
  std::map<std::string, fs::file_time_type> written;
  for (const std::string part : {"embed", "cluster", "runs/kmeans-0/dtm-run.json", "runs/vanilla/dtm-run.json",
                                 "merge/kmeans", "evaluate/base.json", "evaluate/dtm-kmeans.json"}) {
    written[part] = fs::last_write_time(fixture.out(part));
  }
  const auto second = fixture.dtm();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  for (const auto& [part, time] : written) EXPECT_EQ(fs::last_write_time(fixture.out(part)), time) << part;
  EXPECT_TRUE(contains(second.err, "0 of 3 runs to train")) << second.err;
}

// The output parts whose modification times tell which stages a rerun redid.
std::map<std::string, fs::file_time_type> stage_times(const DtmFixture& fixture) {
  std::map<std::string, fs::file_time_type> times;
  for (const std::string part : {"embed", "cluster", "runs/kmeans-0/dtm-run.json", "merge/kmeans/dtm-fingerprint",
                                 "evaluate/base.json", "evaluate/dtm-kmeans.json"}) {
    times[part] = fs::last_write_time(fixture.out(part));
  }
  return times;
}

TEST(DtmPipeline, EditedTrainSectionRetrainsTheRunsAndReusesEmbedAndCluster) {
  const DtmFixture fixture("dtm-edit-train", kNoBaselines);
  ASSERT_EQ(fixture.dtm().exit_code, 0);
  const auto before = stage_times(fixture);
  const auto first_weights = weights_of(fixture.out("merge/kmeans"));
  std::ofstream(fixture.dir / "dtm.yml", std::ios::app) << "train_overrides: {optimizer.lr: 0.05}\n";
  const auto second = fixture.dtm();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const auto after = stage_times(fixture);
  for (const std::string kept : {"embed", "cluster", "evaluate/base.json"}) {
    EXPECT_EQ(after.at(kept), before.at(kept)) << kept << " does not depend on the train section";
  }
  for (const std::string redone : {"runs/kmeans-0/dtm-run.json", "merge/kmeans/dtm-fingerprint",
                                   "evaluate/dtm-kmeans.json"}) {
    EXPECT_NE(after.at(redone), before.at(redone)) << redone << " was reused after the learning rate changed";
  }
  EXPECT_TRUE(contains(second.err, "2 of 2 runs to train")) << second.err;
  EXPECT_FALSE(at::equal(weights_of(fixture.out("merge/kmeans")).at("model.layers.0.mlp.up_proj.weight"),
                         first_weights.at("model.layers.0.mlp.up_proj.weight")));
}

TEST(DtmPipeline, EditedRecordsOrClusterSeedRedoTheirStageAndEverythingDownstream) {
  const DtmFixture fixture("dtm-edit-data", kNoBaselines);
  ASSERT_EQ(fixture.dtm().exit_code, 0);
  const auto first = stage_times(fixture);
  std::ofstream(fixture.dir / "dtm.yml", std::ios::app) << "records: 20\n";
  ASSERT_EQ(fixture.dtm().exit_code, 0);
  const auto second = stage_times(fixture);
  for (const auto& [part, time] : first) {
    if (part == "evaluate/base.json") continue;  // the base model's evaluation does not depend on the records
    EXPECT_NE(second.at(part), time) << part << " was reused after records changed";
  }
  EXPECT_EQ(line_count(fixture.out("embed/train.jsonl")), 20u);

  std::string text = read_text_file(fixture.dir / "dtm.yml");
  text.replace(text.find("cluster: {k: 2, iterations: 5}"), 30, "cluster: {k: 2, iterations: 5, seed: 7}");
  std::ofstream(fixture.dir / "dtm.yml") << text;
  ASSERT_EQ(fixture.dtm().exit_code, 0);
  const auto third = stage_times(fixture);
  EXPECT_EQ(third.at("embed"), second.at("embed"));
  for (const std::string redone : {"cluster", "runs/kmeans-0/dtm-run.json", "evaluate/dtm-kmeans.json"}) {
    EXPECT_NE(third.at(redone), second.at(redone)) << redone << " was reused after cluster.seed changed";
  }
}

TEST(DtmPipeline, InterruptedRunResumesFromItsCheckpointToTheSameWeights) {
  const DtmFixture fixture("dtm-resume", kNoBaselines);
  ASSERT_EQ(fixture.dtm().exit_code, 0);
  const NamedTensors merged = weights_of(fixture.out("merge/kmeans"));
  const auto kept = fs::last_write_time(fixture.out("runs/kmeans-0/dtm-run.json"));
  // kmeans-1 as if killed after its first checkpoint: no final model, no later checkpoint, no completion record.
  const auto steps = fixture.run_record("kmeans-1")["steps"].get<std::int64_t>();
  ASSERT_GE(steps, 3) << "needs a checkpoint before the last step";
  fs::remove(fixture.out("runs/kmeans-1/dtm-run.json"));
  fs::remove_all(fixture.out("runs/kmeans-1/final"));
  for (const auto& entry : fs::directory_iterator(fixture.out("runs/kmeans-1/checkpoints"))) {
    if (entry.path().filename() != "step-00000002") fs::remove_all(entry.path());
  }
  const auto result = fixture.dtm();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(read_text_file(fixture.out("runs/kmeans-1.log")), "at step 2"));
  EXPECT_EQ(fs::last_write_time(fixture.out("runs/kmeans-0/dtm-run.json")), kept) << "kmeans-0 was trained again";
  // Exact resume: the merge of the resumed sub-model is the merge of the uninterrupted one, bit for bit.
  trainer::testing::expect_bitwise_equal(weights_of(fixture.out("merge/kmeans")), merged);
}

TEST(DtmPipeline, MergeNamesTheRunsItWaitsForAndOnlyClusterTrainsOne) {
  const DtmFixture fixture("dtm-only", kNoBaselines);
  ASSERT_EQ(fixture.dtm({"--until", "cluster"}).exit_code, 0);
  EXPECT_FALSE(fs::exists(fixture.out("runs")));
  const auto waiting = fixture.dtm({"--no-train"});
  EXPECT_EQ(waiting.exit_code, 1);
  EXPECT_TRUE(contains(waiting.err, "have not finished: kmeans-0, kmeans-1")) << waiting.err;
  const auto one = fixture.dtm({"--only-cluster", "1"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_TRUE(fs::exists(fixture.out("runs/kmeans-1/dtm-run.json")));
  EXPECT_FALSE(fs::exists(fixture.out("runs/kmeans-0")));
  const auto unknown = fixture.dtm({"--only-run", "kmeans-7"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(contains(unknown.err, "--only-run kmeans-7: no such run; the runs are kmeans-0, kmeans-1")) << unknown.err;
}

TEST(DtmPipeline, LoraSubModelsMergeAsTheMeanOfTheirUpdates) {
  const DtmFixture fixture("dtm-lora", kNoBaselines,
                           "  lora: {enabled: true, r: 2, alpha: 4, target_modules: [q_proj, v_proj]}\n");
  const auto result = fixture.dtm();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const NamedTensors base = weights_of(fixture.dir / "base");
  const model::LoraAdapter a = model::read_lora_adapter(fixture.out("runs/kmeans-0/final/adapter"));
  const model::LoraAdapter b = model::read_lora_adapter(fixture.out("runs/kmeans-1/final/adapter"));
  auto delta = [](const model::LoraAdapter& adapter, const std::string& module) {
    return at::matmul(adapter.tensors.at("base_model.model." + module + ".lora_B.weight"),
                      adapter.tensors.at("base_model.model." + module + ".lora_A.weight")) *
           (adapter.options.alpha / static_cast<double>(adapter.options.r));
  };
  const std::string q0 = "model.layers.0.self_attn.q_proj";
  EXPECT_GT((delta(a, q0) - delta(b, q0)).abs().max().item<double>(), 0) << "the sub-models' updates differ";
  std::size_t adapted = 0;
  for (const auto& [name, tensor] : weights_of(fixture.out("merge/kmeans"))) {
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    const bool is_adapted = a.tensors.contains("base_model.model." + module + ".lora_A.weight");
    // W + mean(ΔW), never W + mean(B)·mean(A).
    const at::Tensor expected = is_adapted ? base.at(name) + (delta(a, module) + delta(b, module)) / 2 : base.at(name);
    expect_close(tensor, expected, name);
    adapted += is_adapted;
  }
  EXPECT_EQ(adapted, 4u) << "q_proj and v_proj of 2 layers";
}

// The train section keeps an EMA (decay 0.5): every sub-model and soup member writes ema/, and merge.weights: ema
// merges those (the mean of the members' ema tensors, computed here); switching back to final re-merges without
// retraining.
TEST(DtmPipeline, MergeTakesTheAveragedWeightsTheTrainSectionKeeps) {
  const DtmFixture fixture("dtm-ema", "{vanilla: false, random_split: false, uniform_soup: true}",
                           "  averaging: {ema: {decay: 0.5}}\n");
  std::ofstream(fixture.dir / "dtm.yml", std::ios::app) << "merge: {weights: ema}\n";
  const auto result = fixture.dtm();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string probe = "model.layers.0.mlp.up_proj.weight";
  for (const std::string family : {"kmeans", "soup"}) {
    const NamedTensors a = weights_of(fixture.out("runs/" + family + "-0/ema"));
    const NamedTensors b = weights_of(fixture.out("runs/" + family + "-1/ema"));
    EXPECT_FALSE(at::equal(a.at(probe), weights_of(fixture.out("runs/" + family + "-0/final")).at(probe)))
        << family << ": ema/ should hold the average, not the final weights";
    const NamedTensors merged = weights_of(fixture.out("merge/" + family));
    ASSERT_EQ(merged.names(), a.names());
    for (const auto& [name, tensor] : merged) expect_close(tensor, (a.at(name) + b.at(name)) / 2, family + " " + name);
  }

  const auto trained = fs::last_write_time(fixture.out("runs/kmeans-0/dtm-run.json"));
  std::string text = read_text_file(fixture.dir / "dtm.yml");
  text.replace(text.find("merge: {weights: ema}"), 21, "merge: {weights: final}");
  std::ofstream(fixture.dir / "dtm.yml") << text;
  const auto second = fixture.dtm();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(fs::last_write_time(fixture.out("runs/kmeans-0/dtm-run.json")), trained) << "no run was retrained";
  const NamedTensors a = weights_of(fixture.out("runs/kmeans-0/final"));
  const NamedTensors b = weights_of(fixture.out("runs/kmeans-1/final"));
  expect_close(weights_of(fixture.out("merge/kmeans")).at(probe), (a.at(probe) + b.at(probe)) / 2, "final " + probe);
}

// Data-parallel inside a sub-model run: two processes with torchrun's variables train one run together (after
// the clusters were made once, without torchrun), and rank 0 alone records it.
TEST(DtmPipeline, OnlyRunTrainsDataParallelUnderTorchrunVariables) {
  const DtmFixture fixture("dtm-ddp", kNoBaselines);
  const std::string port = std::to_string(ladle::testing::free_tcp_port());
  const auto ranks = [&](const std::string& dtm_options) {
    std::string script;
    for (const std::string rank : {"0", "1"}) {
      script += "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " WORLD_SIZE=2 RANK=" + rank + " LOCAL_RANK=" + rank +
                " '" LADLE_CLI_PATH "' --threads 1 dtm --config '" + (fixture.dir / "dtm.yml").string() + "' " +
                dtm_options + " > '" + (fixture.dir / ("rank" + rank + ".log")).string() + "' 2>&1 & r" + rank +
                "=$!; ";
    }
    return ladle::testing::run_command("/bin/sh", {"-c", script + "wait $r0; a=$?; wait $r1; exit $((a + $?))"});
  };
  EXPECT_NE(ranks("--until cluster").exit_code, 0) << "every rank would embed and cluster at once";
  EXPECT_TRUE(contains(read_text_file(fixture.dir / "rank0.log"), "--until cluster` once first, without torchrun"));
  ASSERT_EQ(fixture.dtm({"--until", "cluster"}).exit_code, 0);
  const auto result = ranks("--only-run kmeans-0");
  ASSERT_EQ(result.exit_code, 0) << read_text_file(fixture.dir / "rank0.log") << read_text_file(fixture.dir / "rank1.log");
  EXPECT_TRUE(fs::exists(fixture.out("runs/kmeans-0/final/model.safetensors")));
  EXPECT_FALSE(fs::exists(fixture.out("runs/kmeans-1")));
  for (const std::string rank : {"0", "1"}) {
    EXPECT_TRUE(contains(read_text_file(fixture.dir / ("rank" + rank + ".log")), " x 1 x 2 examples")) << "rank " << rank;
  }
  EXPECT_EQ(fixture.run_record("kmeans-0")["name"], "kmeans-0");
}

TEST(DtmConfig, BadValuesAreRejectedNamingTheKey) {
  const DtmFixture fixture("dtm-config", kNoBaselines);
  const std::string train = "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}}\n";
  const std::string evaluation = "evaluation: {valid: valid.jsonl}\n";
  EXPECT_EQ(dtm_config_error(fixture, train + evaluation), "(accepted)");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {train + evaluation + "cluster: {kk: 2}\n",
       "dtm.yml:3: cluster.kk: unknown key (did you mean 'k'?); known keys: k, iterations,"},
      {train + evaluation + "cluster: {k: many}\n", "dtm.yml:3: cluster.k: expected a whole number, got 'many'"},
      {train + evaluation + "cluster: {k: 0}\n", "dtm.yml:3: cluster.k: expected a whole number >= 1, got 0"},
      {train + evaluation + "embed: {pooling: max}\n", "embed.pooling: expected one of mean, last, got 'max'"},
      {train + evaluation + "merge: {merge_method: averaging}\n", "dtm.yml:3: merge: "},
      {train + evaluation + "merge: {weights: best}\n",
       "dtm.yml:3: merge.weights: expected one of final, ema, swa, lawa, got 'best'"},
      {train + evaluation + "merge: {weights: ema}\n",
       "dtm.yml:3: merge.weights: the training config (dtm.yml) writes no ema/ model"},
      {"train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}, averaging: {emaa: {}}}\n" +
           evaluation,
       "averaging.emaa: unknown callback type 'emaa' (did you mean 'ema'?)"},
      {train + evaluation + "baselines: {vanilla: maybe}\n", "baselines.vanilla: expected true or false"},
      {train + "evaluation: {valid: missing.jsonl}\n", "evaluation.valid: '"},
      {train, "evaluation: must name at least one held-out set"},
      {evaluation, "train: must be set"},
      {train + evaluation + "train_overrides: {optimizer.lr: fast}\n", "optimizer.lr"},
      // An inline training config's errors name the dtm.yml's own line.
      {"train:\n  model: {path: base}\n  batch_size: lots\n  tokenizer: {type: byte}\n  data: {train: train.jsonl}\n" +
           evaluation,
       "dtm.yml:3: train.batch_size: expected a whole number, got 'lots'"},
      {"train: {tokenizer: {type: byte}, model: {config: {hidden_size: 8}}, data: {train: train.jsonl}}\n" + evaluation,
       "model.path: DTM fine-tunes one base model"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string message = dtm_config_error(fixture, text);
    EXPECT_TRUE(contains(message, expected)) << "config:\n" << text << "message: " << message;
  }
}

// Every key is read by the schema: an unknown one gets a suggestion and the line, a value out of range the allowed
// range, a value from --set the --set argument (`ladle dtm --set` too), inline training keys their `train.` key.
TEST(DtmConfig, UnknownKeysRangesAndSetValuesAreNamedAsTheSchemaNamesThem) {
  const DtmFixture fixture("dtm-config-schema", kNoBaselines);
  const std::string train = "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}}\n";
  const std::string evaluation = "evaluation: {valid: valid.jsonl}\n";
  EXPECT_EQ(dtm_config_error(fixture, train + evaluation + "cluster:\n  iteratons: 3\n"),
            "dtm.yml:4: cluster.iteratons: unknown key (did you mean 'iterations'?); known keys: k, iterations, "
            "nredo, seed, spherical, max_points_per_centroid, balanced");
  EXPECT_EQ(dtm_config_error(fixture, train + evaluation + "embed: {max_length: 1}\n"),
            "dtm.yml:3: embed.max_length: expected a whole number >= 2, got 1");
  EXPECT_EQ(dtm_config_error(fixture, train + evaluation, {"cluster.k=0"}),
            "--set cluster.k=0: cluster.k: expected a whole number >= 1, got 0");
  EXPECT_EQ(dtm_config_error(fixture, train + evaluation, {"evaluation.batch_size=0"}),
            "--set evaluation.batch_size=0: evaluation.batch_size: expected a whole number >= 1, got 0");
  EXPECT_EQ(dtm_config_error(fixture, train + evaluation, {"train.optimizer.lr=-1"}),
            "--set train.optimizer.lr=-1: train.optimizer.lr: expected a number > 0, got -1 (the training config of "
            "dtm.yml)");
  EXPECT_EQ(dtm_config_error(fixture, train + evaluation, {"train.averaging.ema.decay=2"}),
            "--set train.averaging.ema.decay=2: train.averaging.ema.decay: expected a number in [0, 1], got 2 (the "
            "training config of dtm.yml)");
  EXPECT_EQ(dtm_config_error(fixture, train + evaluation, {"cluster.k=3"}), "(accepted)");

  // A train YAML named by path is its own file in messages.
  std::ofstream(fixture.dir / "train.yml") << "model: {path: base}\noptimizer: {lrr: 1}\n";
  EXPECT_EQ(dtm_config_error(fixture, "train: train.yml\n" + evaluation),
            (fixture.dir / "train.yml").string() +
                ":2: optimizer.lrr: unknown key (did you mean 'lr'?); known keys: name, lr, betas, eps, weight_decay, "
                "momentum, nesterov, decay_embeddings (the training config of dtm.yml)");

  std::ofstream(fixture.dir / "dtm.yml") << train << evaluation;
  const auto result = fixture.dtm({"--set", "cluster.k=0"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "--set cluster.k=0: cluster.k: expected a whole number >= 1, got 0")) << result.err;
}

}  // namespace
}  // namespace ladle::dtm
