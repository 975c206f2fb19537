// The TF-IDF embedder: its terms as scikit-learn's default analyzer finds them, its TF-IDF rows against a hand
// computation of scikit-learn's formulas, its SVD-reduced embedding against NumPy's SVD of the same matrix, and a
// saved embedder embedding new text exactly as the fitted one.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "clustering/tfidf_embedder.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::clustering {
namespace {

namespace fs = std::filesystem;

TEST(TfidfTerms, LowercasedRunsOfTwoOrMoreWordCharacters) {
  EXPECT_EQ(tfidf_terms("Hello, WORLD_x! a 42 café-au-lait I"),
            (std::vector<std::string>{"hello", "world_x", "42", "café", "au", "lait"}));
}

TEST(TfidfEmbedder, RowsAreCountTimesSmoothedIdfWithUnitNorm) {
  // Terms (sorted): apple banana cherry date; "a" and "1" are too short to be terms. n = 3 texts;
  // df: apple 1, banana 2, cherry 2, date 1; idf(t) = ln((1 + n) / (1 + df)) + 1.
  const std::vector<std::string> texts = {"apple banana apple", "Banana cherry", "cherry CHERRY date, a 1"};
  const TfidfEmbedder embedder = TfidfEmbedder::fit(texts, TfidfOptions{2});
  ASSERT_EQ(embedder.vocabulary(), (std::vector<std::string>{"apple", "banana", "cherry", "date"}));
  const double rare = std::log(4.0 / 2.0) + 1.0;    // df 1
  const double common = std::log(4.0 / 3.0) + 1.0;  // df 2
  EXPECT_NEAR(embedder.idf()[0], rare, 1e-6);
  EXPECT_NEAR(embedder.idf()[1], common, 1e-6);
  const std::vector<std::vector<double>> unnormalised = {
      {2 * rare, 1 * common, 0, 0},  // apple ×2, banana ×1
      {0, 1 * common, 1 * common, 0},  // banana, cherry
      {0, 0, 2 * common, 1 * rare},  // cherry ×2, date
  };
  const at::Tensor rows = embedder.tfidf(texts);
  ASSERT_EQ(rows.sizes(), (at::IntArrayRef{3, 4}));
  for (int i = 0; i < 3; ++i) {
    double norm = 0;
    for (const double value : unnormalised[i]) norm += value * value;
    norm = std::sqrt(norm);
    for (int j = 0; j < 4; ++j) {
      EXPECT_NEAR(rows[i][j].item<double>(), unnormalised[i][j] / norm, 1e-6) << "row " << i << " term " << j;
    }
  }
}

TEST(TfidfEmbedder, EmbeddingIsTheUnitRowOfTheProjectionOntoNumpysLeadingSingularVectors) {
  const std::vector<std::string> texts = {"rivers run to the sea and the sea gives rain",
                                          "the hills hold rain and rivers", "add two numbers and print the sum",
                                          "print the numbers in order then add them", "rain rain rain on the hills"};
  const TfidfEmbedder embedder = TfidfEmbedder::fit(texts, TfidfOptions{2});
  ASSERT_EQ(embedder.dimensions(), 2);
  const at::Tensor matrix = embedder.tfidf(texts).to(at::kDouble);
  std::ostringstream rows;
  rows.precision(17);
  for (std::int64_t i = 0; i < matrix.size(0); ++i) {
    rows << (i ? "," : "") << "[";
    for (std::int64_t j = 0; j < matrix.size(1); ++j) rows << (j ? "," : "") << matrix[i][j].item<double>();
    rows << "]";
  }
  const std::string code = "import numpy as np\nx = np.array([" + rows.str() +
                           "])\n_, s, vt = np.linalg.svd(x, full_matrices=False)\n"
                           "z = x @ vt[:2].T\nz /= np.linalg.norm(z, axis=1, keepdims=True)\n"
                           "print(s[0] - s[1], s[1] - s[2])\nfor v in z.ravel(): print(repr(float(v)))\n";
  const auto result = ladle::testing::run_command(ladle::testing::python_program(), {"-c", code});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream out(result.out);
  double gap01 = 0, gap12 = 0;
  out >> gap01 >> gap12;
  ASSERT_GT(std::min(gap01, gap12), 1e-3) << "the leading singular values must be distinct for a unique basis";
  const FloatMatrix embeddings = embedder.embed(texts);
  ASSERT_EQ(embeddings.rows, 5);
  ASSERT_EQ(embeddings.cols, 2);
  // Each component's sign is a convention (numpy's and ours may differ): the columns agree up to sign.
  for (std::int64_t i = 0; i < 5; ++i) {
    for (std::int64_t c = 0; c < 2; ++c) {
      double expected = 0;
      out >> expected;
      EXPECT_NEAR(std::abs(embeddings.row(i)[c]), std::abs(expected), 1e-5) << "text " << i << " dimension " << c;
    }
  }
}

TEST(TfidfEmbedder, DimensionsStopAtTheMatrixRank) {
  // Two texts span at most two directions, however many are asked for.
  const TfidfEmbedder embedder = TfidfEmbedder::fit({"alpha beta", "gamma delta"}, TfidfOptions{100});
  EXPECT_EQ(embedder.dimensions(), 2);
}

TEST(TfidfEmbedder, ASavedEmbedderEmbedsNewTextAsTheFittedOne) {
  const std::vector<std::string> texts = {"rivers and rain", "numbers and sums", "rain on the hills"};
  const TfidfEmbedder fitted = TfidfEmbedder::fit(texts, TfidfOptions{2});
  const fs::path dir = ladle::testing::make_temp_dir("tfidf");
  fitted.save(dir);
  const TfidfEmbedder loaded = TfidfEmbedder::load(dir);
  fs::remove_all(dir);
  const std::vector<std::string> unseen = {"more rain on rivers", "unknown words only"};
  const FloatMatrix a = fitted.embed(unseen);
  const FloatMatrix b = loaded.embed(unseen);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(b.row(1)[0], 0.0f) << "a text with no fitted term is the zero row";
  EXPECT_EQ(b.row(1)[1], 0.0f);
}

TEST(TfidfEmbedder, TextsWithoutTermsAreAnError) {
  EXPECT_THROW(TfidfEmbedder::fit({"a b", "1 2 !"}), Error);
}

}  // namespace
}  // namespace ladle::clustering
