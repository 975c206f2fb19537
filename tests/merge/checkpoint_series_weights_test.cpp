// Checkpoint-series merge weights (lib/merge/checkpoint_series_weights.h) against closed forms worked by hand:
// PMA's SMA, EMA and WMA, WSM's alpha_i - alpha_{i+1} for linear, cosine and 1-sqrt decays, and the scheme syntax.
#include "lib/merge/checkpoint_series_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

std::vector<double> weights_of(const std::string& scheme, std::size_t count) {
  return series_weights(parse_series_weighting(scheme), count);
}

void expect_weights(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-12) << "weight " << i;
}

TEST(CheckpointSeriesWeights, SmaIsUniform) { expect_weights(weights_of("sma", 4), {0.25, 0.25, 0.25, 0.25}); }

// alpha (1 - alpha)^(N - i) for alpha 1/2, N 3: 1/8, 1/4, 1/2, summing to 7/8, normalised.
TEST(CheckpointSeriesWeights, EmaGivesTheNewestAlphaAndEachOlderOneOneMinusAlphaTimesLess) {
  expect_weights(weights_of("ema:0.5", 3), {1.0 / 7, 2.0 / 7, 4.0 / 7});
}

TEST(CheckpointSeriesWeights, EmaWithAlphaOneKeepsOnlyTheNewest) {
  expect_weights(weights_of("ema:1", 3), {0.0, 0.0, 1.0});
}

// i / (1 + 2 + 3 + 4).
TEST(CheckpointSeriesWeights, WmaIsProportionalToThePosition) {
  expect_weights(weights_of("wma", 4), {0.1, 0.2, 0.3, 0.4});
}

// A linear decay over N equal intervals falls by 1/N in each, so alpha_i - alpha_{i+1} = 1/N: WSM's linear is SMA.
TEST(CheckpointSeriesWeights, WsmLinearIsUniform) {
  for (const std::size_t n : {1u, 2u, 5u, 17u}) expect_weights(weights_of("wsm:linear", n), weights_of("sma", n));
}

// alpha_k = (1 + cos(pi (k - 1)/3)) / 2 = 1, 3/4, 1/4, 0.
TEST(CheckpointSeriesWeights, WsmCosineOverThreeCheckpoints) {
  expect_weights(weights_of("wsm:cosine", 3), {0.25, 0.5, 0.25});
}

// alpha_k = 1 - sqrt((k - 1)/4) = 1, 1/2, 1 - sqrt(1/2), 1 - sqrt(3/4), 0.
TEST(CheckpointSeriesWeights, WsmSqrtOverFourCheckpoints) {
  expect_weights(weights_of("wsm:sqrt", 4),
                 {0.5, std::sqrt(0.5) - 0.5, std::sqrt(0.75) - std::sqrt(0.5), 1 - std::sqrt(0.75)});
}

// Monotone decays give non-negative weights that telescope to alpha_1 - alpha_{N+1} = 1; so do the averages.
TEST(CheckpointSeriesWeights, EverySchemeGivesNonNegativeWeightsSummingToOne) {
  for (const char* scheme : {"sma", "ema:0.2", "ema:0.9", "wma", "wsm:cosine", "wsm:linear", "wsm:sqrt"}) {
    for (std::size_t n = 1; n <= 40; ++n) {
      const std::vector<double> weights = weights_of(scheme, n);
      ASSERT_EQ(weights.size(), n);
      for (const double weight : weights) EXPECT_GE(weight, 0.0) << scheme << " N " << n;
      EXPECT_NEAR(std::accumulate(weights.begin(), weights.end(), 0.0), 1.0, 1e-12) << scheme << " N " << n;
    }
  }
}

TEST(CheckpointSeriesWeights, OneCheckpointGetsWeightOne) {
  for (const char* scheme : {"sma", "ema:0.3", "wma", "wsm:cosine", "wsm:sqrt"}) {
    expect_weights(weights_of(scheme, 1), {1.0});
  }
}

TEST(CheckpointSeriesWeights, NamesReadBack) {
  for (const char* scheme : {"sma", "wma", "ema:0.2", "ema:1", "wsm:cosine", "wsm:linear", "wsm:sqrt"}) {
    EXPECT_EQ(series_weighting_name(parse_series_weighting(scheme)), scheme);
  }
}

TEST(CheckpointSeriesWeights, RefusesMalformedSchemesSayingWhatItExpects) {
  for (const char* scheme : {"", "ema", "ema:", "ema:0", "ema:1.5", "ema:-0.1", "ema:0.2x", "wsm", "wsm:exp",
                             "sma:1", "wma:2", "cosine"}) {
    const std::string message = error_message([&] { parse_series_weighting(scheme); });
    EXPECT_TRUE(contains(message, "expected sma, ema:ALPHA")) << scheme << ": " << message;
    EXPECT_TRUE(contains(message, std::string("got '") + scheme + "'")) << message;
  }
}

TEST(CheckpointSeriesWeights, RefusesZeroCheckpoints) {
  EXPECT_TRUE(contains(error_message([] { weights_of("sma", 0); }), "no checkpoints"));
}

}  // namespace
}  // namespace ladle::merge
