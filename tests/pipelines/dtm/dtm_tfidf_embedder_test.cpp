// `embed.embedder: tfidf` end to end on the tiny fixture: the records are embedded by TF-IDF and truncated SVD, the
// fitted embedder is saved with the embeddings, k-means over them splits the two tasks (whose prompts share no
// term, so their TF-IDF rows are orthogonal), and the c-BTM ensemble routes the held-out prompts with the saved
// embedder; a bad embedder name is an error naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <string>

#include "clustering/npy.h"
#include "clustering/tfidf_embedder.h"
#include "pipelines/dtm/dtm_fingerprints.h"
#include "tests/pipelines/dtm/dtm_fixture.h"
#include "tests/support/test_helpers.h"

namespace ladle::dtm {
namespace {

using ladle::testing::contains;
using ladle::testing::read_text_file;

// The tasks of a cluster's records ("add", "echo").
std::set<std::string> tasks_of(const std::filesystem::path& cluster) {
  std::set<std::string> tasks;
  std::ifstream in(cluster);
  for (std::string line; std::getline(in, line);) tasks.insert(nlohmann::json::parse(line).value("task", ""));
  return tasks;
}

TEST(DtmTfidfEmbedder, ClustersByTfidfAndTheEnsembleRoutesWithTheSavedEmbedder) {
  const DtmFixture fixture("dtm-tfidf", "{vanilla: false, random_split: false, uniform_soup: false, ensemble: true}");
  std::string text = read_text_file(fixture.dir / "dtm.yml");
  text.replace(text.find("embed: {"), 8, "embed: {embedder: tfidf, text: instruction, dimensions: 4, ");
  std::ofstream(fixture.dir / "dtm.yml") << text;
  const auto result = fixture.dtm();
  ASSERT_EQ(result.exit_code, 0) << result.err;

  const clustering::FloatMatrix embeddings = clustering::read_npy(fixture.out("embed/embeddings.npy"));
  ASSERT_EQ(embeddings.rows, 24);
  EXPECT_LE(embeddings.cols, 4);
  for (std::int64_t i = 0; i < embeddings.rows; ++i) {
    double norm = 0;
    for (std::int64_t c = 0; c < embeddings.cols; ++c) norm += embeddings.row(i)[c] * embeddings.row(i)[c];
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5) << "record " << i;
  }
  const auto saved = clustering::TfidfEmbedder::load(fixture.out("embed"));
  EXPECT_EQ(saved.dimensions(), embeddings.cols);
  EXPECT_TRUE(contains(read_text_file(fixture.out("embed/embed.json")), "\"embedder\": \"tfidf\""));

  const auto first = tasks_of(fixture.out("cluster/kmeans/cluster-0.jsonl"));
  const auto second = tasks_of(fixture.out("cluster/kmeans/cluster-1.jsonl"));
  EXPECT_EQ(first.size(), 1u);
  EXPECT_EQ(second.size(), 1u);
  EXPECT_NE(first, second);

  const auto ensemble = nlohmann::json::parse(read_text_file(fixture.out("evaluate/ensemble.json")));
  EXPECT_GT(ensemble["metrics"]["valid/examples"].get<double>(), 0);
  EXPECT_TRUE(contains(read_text_file(fixture.out("report/report.md")), "| c-BTM ensemble |"));
}

// The embed fingerprint of a config: its embeddings are reused exactly while this stays the same.
std::string embed_fingerprint(const DtmFixture& fixture, const std::string& embed) {
  const std::string text = "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}}\n"
                           "evaluation: {valid: valid.jsonl}\nembed: " + embed + "\n";
  const DtmConfig config = DtmConfig::from_yaml(text, "dtm.yml", fixture.dir);
  const trainer::TrainConfig train = config.train_config();
  const DtmLayout layout{config.output_dir};
  return DtmFingerprints(config, layout, train).embed();
}

TEST(DtmTfidfEmbedder, OnlyANonDefaultEmbedderEntersTheEmbedFingerprint) {
  const DtmFixture fixture("dtm-tfidf-fingerprint", kNoBaselines);
  const std::string default_embedder = embed_fingerprint(fixture, "{}");
  // Naming the default, or setting a key only tfidf reads, keeps the embeddings of earlier runs.
  EXPECT_EQ(embed_fingerprint(fixture, "{embedder: hidden_states}"), default_embedder);
  EXPECT_EQ(embed_fingerprint(fixture, "{dimensions: 7}"), default_embedder);
  const std::string tfidf = embed_fingerprint(fixture, "{embedder: tfidf}");
  EXPECT_NE(tfidf, default_embedder);
  EXPECT_NE(embed_fingerprint(fixture, "{embedder: tfidf, dimensions: 7}"), tfidf);
}

TEST(DtmTfidfEmbedder, ABadEmbedderIsAnErrorNamingTheKey) {
  const DtmFixture fixture("dtm-tfidf-config", kNoBaselines);
  const std::string head = "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}}\n"
                           "evaluation: {valid: valid.jsonl}\n";
  EXPECT_EQ(dtm_config_error(fixture, head + "embed: {embedder: tfidf, dimensions: 8}\n"), "(accepted)");
  const std::string bad = dtm_config_error(fixture, head + "embed: {embedder: bert}\n");
  EXPECT_TRUE(contains(bad, "dtm.yml:3: embed.embedder: expected one of hidden_states, tfidf")) << bad;
  const std::string zero = dtm_config_error(fixture, head + "embed: {embedder: tfidf, dimensions: 0}\n");
  EXPECT_TRUE(contains(zero, "dtm.yml:3: embed.dimensions: expected")) << zero;
}

}  // namespace
}  // namespace ladle::dtm
