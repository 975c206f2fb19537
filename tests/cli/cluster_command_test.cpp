// `ladle cluster` end to end: a tiny random Llama folder with a sentencepiece tokenizer and a small JSONL written
// here, embedded, clustered, written and reported; then the embeddings reused and a random split.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "clustering/npy.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "tests/support/command_runner.h"

namespace ladle::clustering {
namespace {

namespace fs = std::filesystem;
using ladle::testing::CommandResult;
using ladle::testing::run_ladle;

constexpr int kRecords = 16;
constexpr std::int64_t kHidden = 32;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class ClusterCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(ladle::testing::make_temp_dir("cluster-cli"));
    const fs::path base = *dir_ / "base";
    auto config = model::CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                                    {"vocab_size", 512},
                                                    {"hidden_size", kHidden},
                                                    {"intermediate_size", 48},
                                                    {"num_hidden_layers", 2},
                                                    {"num_attention_heads", 4},
                                                    {"max_position_embeddings", 128}});
    model::save_causal_lm(*model::create_causal_lm(config, 3), base);
    text::SentencePieceTrainOptions tokenizer;
    tokenizer.inputs = {"/usr/share/common-licenses/GPL-3"};
    tokenizer.output = base / "tokenizer.model";
    tokenizer.vocab_size = 400;
    text::train_sentencepiece(tokenizer);

    std::ofstream data(*dir_ / "train.jsonl");
    for (int i = 0; i < kRecords / 2; ++i) {
      data << R"({"instruction": "What is )" << i << " + " << 2 * i << R"(?", "output": ")" << 3 * i
           << R"(", "task": "arithmetic"})"
           << "\n";
      data << R"({"instruction": "Name country number )" << i
           << R"(.", "output": "The Republic of Somewhere Far Away", "task": "country"})"
           << "\n";
    }
    data.close();
    first_ = new CommandResult(cluster({"--out", (*dir_ / "first").string()}));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete first_;
  }

  // Runs `ladle --quiet cluster --data train.jsonl --k K [--model base] extra...`.
  static CommandResult cluster(std::vector<std::string> extra, bool with_model = true, const std::string& k = "2") {
    std::vector<std::string> args = {"--quiet", "cluster", "--data", (*dir_ / "train.jsonl").string(), "--k", k};
    if (with_model) args.insert(args.end(), {"--model", (*dir_ / "base").string()});
    args.insert(args.end(), extra.begin(), extra.end());
    return run_ladle(args);
  }

  static fs::path* dir_;
  static CommandResult* first_;
};

fs::path* ClusterCliTest::dir_ = nullptr;
CommandResult* ClusterCliTest::first_ = nullptr;

TEST_F(ClusterCliTest, WritesEmbeddingsPartitionAndReport) {
  ASSERT_EQ(first_->exit_code, 0) << first_->err;
  EXPECT_NE(first_->out.find("k-means of 16 records into 2 clusters"), std::string::npos) << first_->out;
  const fs::path out = *dir_ / "first";
  const FloatMatrix embeddings = read_npy(out / "embeddings.npy");
  EXPECT_EQ(embeddings.rows, kRecords);
  EXPECT_EQ(embeddings.cols, kHidden);
  EXPECT_EQ(read_npy(out / "centroids.npy").rows, 2);
  const std::string assignments = read_text(out / "assignments.jsonl");
  EXPECT_EQ(std::count(assignments.begin(), assignments.end(), '\n'), kRecords);
  const auto report = nlohmann::json::parse(read_text(out / "report.json"));
  EXPECT_EQ(report["labels"]["records_with_task"], kRecords);
  EXPECT_EQ(report["sizes"][0].get<int>() + report["sizes"][1].get<int>(), kRecords);
  EXPECT_NE(read_text(out / "report.md").find("## Agreement with the task labels"), std::string::npos);
}

TEST_F(ClusterCliTest, ReusedEmbeddingsGiveTheSameAssignments) {
  ASSERT_EQ(first_->exit_code, 0) << first_->err;
  const auto again =
      cluster({"--embeddings", (*dir_ / "first" / "embeddings.npy").string(), "--out", (*dir_ / "reused").string()},
              /*with_model=*/false);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(read_text(*dir_ / "reused" / "assignments.jsonl"), read_text(*dir_ / "first" / "assignments.jsonl"));
  EXPECT_FALSE(fs::exists(*dir_ / "reused" / "embeddings.npy"));
}

TEST_F(ClusterCliTest, RandomSplitHasTheKMeansSizes) {
  ASSERT_EQ(first_->exit_code, 0) << first_->err;
  const auto random = cluster({"--embeddings", (*dir_ / "first" / "embeddings.npy").string(), "--random-split", "--out",
                               (*dir_ / "random").string()},
                              /*with_model=*/false);
  ASSERT_EQ(random.exit_code, 0) << random.err;
  const auto kmeans_sizes = nlohmann::json::parse(read_text(*dir_ / "first" / "sizes.json"));
  const auto random_sizes = nlohmann::json::parse(read_text(*dir_ / "random" / "sizes.json"));
  EXPECT_EQ(random_sizes["method"], "random");
  EXPECT_EQ(random_sizes["sizes"], kmeans_sizes["sizes"]);
}

TEST_F(ClusterCliTest, MoreClustersThanRecordsFailsWithAOneLineError) {
  const auto result = cluster({"--out", (*dir_ / "too-many").string()}, /*with_model=*/true, "100");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("ladle: error: cannot make 100 clusters from the 16 records"), std::string::npos)
      << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_FALSE(fs::exists(*dir_ / "too-many"));
}

TEST_F(ClusterCliTest, MismatchedEmbeddingsFileIsAnError) {
  ASSERT_EQ(first_->exit_code, 0) << first_->err;
  const auto result =
      cluster({"--embeddings", (*dir_ / "first" / "centroids.npy").string(), "--out", (*dir_ / "mismatch").string()},
              /*with_model=*/false);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("holds 2 embeddings but"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace ladle::clustering
