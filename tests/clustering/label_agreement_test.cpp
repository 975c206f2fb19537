// Purity and NMI against values worked out by hand, from the textbook and from NumPy applying the formula.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "clustering/label_agreement.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::clustering {
namespace {

using Ids = std::vector<std::int64_t>;

TEST(LabelAgreement, IdenticalLabelingsScoreOne) {
  const Ids labels = {0, 0, 1, 1, 2, 2, 2};
  EXPECT_DOUBLE_EQ(normalized_mutual_information(labels, labels), 1.0);
  EXPECT_DOUBLE_EQ(purity(labels, labels), 1.0);
}

TEST(LabelAgreement, RenamedClustersScoreOne) {
  EXPECT_NEAR(normalized_mutual_information({5, 5, 9, 9, 1}, {0, 0, 1, 1, 2}), 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(purity({5, 5, 9, 9, 1}, {0, 0, 1, 1, 2}), 1.0);
}

TEST(LabelAgreement, IndependentLabelingsScoreZero) {
  // Every cluster holds each label equally often: the mutual information is exactly 0.
  EXPECT_DOUBLE_EQ(normalized_mutual_information({0, 0, 1, 1}, {0, 1, 0, 1}), 0.0);
  EXPECT_DOUBLE_EQ(purity({0, 0, 1, 1}, {0, 1, 0, 1}), 0.5);
}

TEST(LabelAgreement, BothSingleValuedIsAPerfectMatch) {
  // scikit-learn's limit case: neither labeling splits the data.
  EXPECT_DOUBLE_EQ(normalized_mutual_information({3, 3, 3}, {7, 7, 7}), 1.0);
}

TEST(LabelAgreement, WorkedTwoByTwoExample) {
  // Contingency [[2, 1], [1, 2]] over N = 6: every marginal is 3, so H(C) = H(L) = log 2 and
  // I = 2·(2/6)·log(6·2/(3·3)) + 2·(1/6)·log(6·1/(3·3)) = (2/3)·log(4/3) + (1/3)·log(2/3).
  const double expected = (2.0 / 3.0 * std::log(4.0 / 3.0) + 1.0 / 3.0 * std::log(2.0 / 3.0)) / std::log(2.0);
  EXPECT_NEAR(normalized_mutual_information({0, 0, 0, 1, 1, 1}, {0, 0, 1, 0, 1, 1}), expected, 1e-12);
  EXPECT_DOUBLE_EQ(purity({0, 0, 0, 1, 1, 1}, {0, 0, 1, 0, 1, 1}), 4.0 / 6.0);
}

TEST(LabelAgreement, TextbookExampleOfManningRaghavanSchutze) {
  // Introduction to Information Retrieval, figure 16.4: clusters of 17 points (x, o, ◇) with 5x 1o / 1x 4o 1◇ /
  // 2x 3◇; the book gives purity 0.71 and NMI 0.36 (its equation 16.4 is the arithmetic-mean NMI).
  const Ids clusters = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2};
  const Ids labels = {0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 2, 0, 0, 2, 2, 2};
  EXPECT_NEAR(purity(clusters, labels), 12.0 / 17.0, 1e-12);
  EXPECT_NEAR(normalized_mutual_information(clusters, labels), 0.36, 0.005);
}

TEST(LabelAgreement, UnequalMarginalsMatchNumPyFromTheFormula) {
  const Ids clusters = {0, 0, 0, 1, 1, 2, 2, 2, 2, 3};
  const Ids labels = {1, 1, 0, 0, 0, 2, 2, 1, 2, 2};
  const auto result = ladle::testing::run_command(
      ladle::testing::python_program(),
      {"-c",
       "import numpy as np\n"
       "c = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3]); l = np.array([1, 1, 0, 0, 0, 2, 2, 1, 2, 2])\n"
       "n = np.array([[np.sum((c == i) & (l == j)) for j in range(3)] for i in range(4)], float)\n"
       "p = n / n.sum(); a = p.sum(1, keepdims=True); b = p.sum(0, keepdims=True)\n"
       "nz = p > 0\n"
       "mi = np.sum(p[nz] * np.log(p[nz] / (a @ b)[nz]))\n"
       "h = lambda q: -np.sum(q[q > 0] * np.log(q[q > 0]))\n"
       "print(repr(mi / ((h(a) + h(b)) / 2)))\n"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NEAR(normalized_mutual_information(clusters, labels), std::stod(result.out), 1e-12);
}

TEST(LabelAgreement, LabelIdsFollowFirstAppearance) { EXPECT_EQ(label_ids({"b", "a", "b", "c"}), (Ids{0, 1, 0, 2})); }

TEST(LabelAgreement, MismatchedLengthsAreAnError) {
  EXPECT_THROW(normalized_mutual_information({0, 1}, {0}), Error);
  EXPECT_THROW(purity({}, {}), Error);
}

}  // namespace
}  // namespace ladle::clustering
