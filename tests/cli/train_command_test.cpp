// `ladle train` end to end on tiny inputs: what a run writes (final model, metrics, checkpoints), resuming, LoRA,
// pretraining on plain text, a tokenizer trained on the fly, the Fisher information.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/io/checkpoint_reader.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/lora.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle::trainer {
namespace {

using ladle::testing::contains;

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

class TrainCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("train-command");
    testing::write_jsonl(dir_ + "/train.jsonl", testing::tiny_records(12));
    testing::write_jsonl(dir_ + "/valid.jsonl", testing::tiny_records(6, 100));
    ladle::testing::write_text_file(dir_ + "/train.yml",
                                    "max_steps: 3\nbatch_size: 4\nthreads: 1\nlog_every_steps: 1\n"
                                    "model: {config: " +
                                        testing::tiny_llama_json().dump() +
                                        "}\n"
                                        "tokenizer: {type: byte}\n"
                                        "data: {train: train.jsonl, valid: valid.jsonl}\n"
                                        "evaluation: {every_steps: 2, generation_examples: 4, max_new_tokens: 4}\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ladle::testing::CommandResult train(std::vector<std::string> extra) const {
    std::vector<std::string> args = {"-q", "train", "--config", dir_ + "/train.yml", "--set", "output_dir=" + out()};
    args.insert(args.end(), extra.begin(), extra.end());
    return ladle::testing::run_ladle(args);
  }
  std::string out() const { return dir_ + "/out"; }

  std::string dir_;
};

TEST_F(TrainCommandTest, WritesTheFinalModelMetricsAndALastCheckpoint) {
  const auto result = train({});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "trained 3 steps")) << result.out;
  const auto model = model::load_causal_lm(out() + "/final");
  EXPECT_EQ(model->config().hidden_size, 16);
  const auto lines = read_jsonl(out() + "/metrics.jsonl");
  std::vector<std::pair<std::string, std::int64_t>> kinds;
  for (const auto& line : lines) kinds.emplace_back(line.at("kind"), line.at("step"));
  EXPECT_EQ(kinds, (std::vector<std::pair<std::string, std::int64_t>>{
                       {"train", 1}, {"eval", 2}, {"train", 2}, {"train", 3}, {"eval", 3}}));
  EXPECT_TRUE(lines[1].contains("eval/loss/add"));
  EXPECT_TRUE(lines[1].contains("eval/exact_match"));
  EXPECT_TRUE(lines[0].contains("train/tokens_per_second"));
  EXPECT_TRUE(std::filesystem::exists(out() + "/checkpoints/step-00000003/trainer_state.json"));
  EXPECT_TRUE(std::filesystem::exists(out() + "/train_config.json"));
}

TEST_F(TrainCommandTest, ResumeContinuesFromTheLatestCheckpointWithAGreaterStepBudget) {
  ASSERT_EQ(train({}).exit_code, 0);
  const auto result = train({"--resume", out(), "--set", "max_steps=5"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(contains(result.out, "trained 5 steps")) << result.out;
  std::size_t train_lines = 0;
  for (const auto& line : read_jsonl(out() + "/metrics.jsonl")) train_lines += line.at("kind") == "train";
  EXPECT_EQ(train_lines, 5u);
}

TEST_F(TrainCommandTest, LoraRunWritesThePeftAdapterAndTheMergedModel) {
  const auto result = train({"--set", "lora.enabled=true", "--set", "lora.r=2", "--set", "optimizer.lr=0.01"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto adapter = model::read_lora_adapter(out() + "/final/adapter");
  EXPECT_EQ(adapter.options.r, 2);
  EXPECT_TRUE(adapter.tensors.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"));
  // The merged model is the fresh base plus the adapter's update.
  const auto merged = io::CheckpointReader(out() + "/final").load_all();
  const auto base = testing::tiny_model()->hf_state_dict();
  const auto expected = model::merge_lora_into_base(base, adapter);
  EXPECT_TRUE(at::allclose(merged.at("model.layers.0.self_attn.q_proj.weight"),
                           expected.at("model.layers.0.self_attn.q_proj.weight")));
  EXPECT_TRUE(at::equal(merged.at("model.layers.0.mlp.up_proj.weight"), base.at("model.layers.0.mlp.up_proj.weight")));
  EXPECT_TRUE(std::filesystem::exists(out() + "/checkpoints/step-00000003/adapter/adapter_model.safetensors"));
}

TEST_F(TrainCommandTest, PretrainsOnPlainTextInBlocks) {
  const auto result = train({"--set", "data.format=text", "--set", "data.train=/usr/share/common-licenses/GPL-3",
                             "--set", "data.valid=/usr/share/common-licenses/GPL-2", "--set", "data.block_size=32",
                             "--set", "evaluation.max_examples=16"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto lines = read_jsonl(out() + "/metrics.jsonl");
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines.back().contains("eval/loss/corpus")) << lines.back().dump();
}

TEST_F(TrainCommandTest, TrainsASentencepieceTokenizerWhenItIsMissingAndShipsIt) {
  const auto result = train({"--set", "tokenizer.type=sentencepiece", "--set", "tokenizer.path=" + dir_ + "/tok.model",
                             "--set", "tokenizer.train_input=/usr/share/common-licenses/GPL-3", "--set",
                             "tokenizer.vocab_size=600", "--set", "model.config.vocab_size=600"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/tok.model"));
  EXPECT_TRUE(std::filesystem::exists(out() + "/final/tok.model"));
}

TEST_F(TrainCommandTest, WritesTheFisherInformationWithParameterNames) {
  const auto result = train({"--set", "fisher.enabled=true", "--set", "fisher.examples=3"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto fisher = io::CheckpointReader(out() + "/fisher.safetensors").load_all();
  const auto model = io::CheckpointReader(out() + "/final").load_all();
  EXPECT_EQ(fisher.names(), model.names());
  for (const auto& [name, tensor] : fisher) EXPECT_GE(tensor.min().item<float>(), 0.0f) << name;
}

TEST_F(TrainCommandTest, Bf16AutocastTrainsFp32MasterWeights) {
  const auto result = train({"--set", "bf16=true"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const auto& [name, tensor] : io::CheckpointReader(out() + "/final").load_all()) {
    EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
  }
  for (const auto& [name, tensor] :
       io::CheckpointReader(out() + "/checkpoints/step-00000003/optimizer.safetensors").load_all()) {
    EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
  }
  const auto lines = read_jsonl(out() + "/metrics.jsonl");
  EXPECT_TRUE(std::isfinite(lines.back().at("eval/loss").get<double>()));
}

TEST_F(TrainCommandTest, SameSeedGivesIdenticalWeights) {
  ASSERT_EQ(train({}).exit_code, 0);
  const auto first = io::CheckpointReader(out() + "/final").load_all();
  ASSERT_EQ(train({"--set", "overwrite_output_dir=true"}).exit_code, 0);
  testing::expect_bitwise_equal(first, io::CheckpointReader(out() + "/final").load_all());
}

}  // namespace
}  // namespace ladle::trainer
