// WiSE-FT: the endpoints, the interpolation, the sweep, the choice of alpha and the report (table, gnuplot plot).
#include "callbacks/wise_ft.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;
using ladle::testing::floats;

class WiseFtModels : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(9);
    base_.insert("w", at::randn({5, 3}));
    base_.insert("h", at::randn({8}).to(at::kBFloat16));
    finetuned_.insert("w", at::randn({5, 3}));
    finetuned_.insert("h", at::randn({8}).to(at::kBFloat16));
  }
  NamedTensors base_;
  NamedTensors finetuned_;
};

TEST_F(WiseFtModels, AlphaZeroAndOneReturnTheEndpointsExactly) {
  const NamedTensors zero = wise_ft_weights(base_, finetuned_, 0.0);
  const NamedTensors one = wise_ft_weights(base_, finetuned_, 1.0);
  for (const auto& [name, tensor] : base_) EXPECT_TRUE(at::equal(zero.at(name), tensor)) << name;
  for (const auto& [name, tensor] : finetuned_) EXPECT_TRUE(at::equal(one.at(name), tensor)) << name;
  EXPECT_EQ(one.at("h").scalar_type(), at::kBFloat16);
}

TEST(WiseFt, InterpolatesLinearlyBetweenBaseAndFinetuned) {
  NamedTensors base, finetuned;
  base.insert("w", floats({0, 10, -4}));
  finetuned.insert("w", floats({4, 20, 4}));
  EXPECT_TRUE(at::equal(wise_ft_weights(base, finetuned, 0.25).at("w"), floats({1, 12.5f, -2})));
  EXPECT_TRUE(at::equal(wise_ft_weights(base, finetuned, 0.75).at("w"), floats({3, 17.5f, 2})));
}

TEST(WiseFt, DefaultGridIsZeroToOneInTenths) {
  const std::vector<double> alphas = default_wise_ft_alphas();
  ASSERT_EQ(alphas.size(), 11u);
  EXPECT_EQ(alphas.front(), 0.0);
  EXPECT_EQ(alphas[3], 0.3);
  EXPECT_EQ(alphas.back(), 1.0);
}

// The evaluation reads the interpolated weight itself, so each point's metrics are a closed form of alpha:
// w = 10α, id_loss = (w − 8)², ood_loss = (w − 4)².
TEST(WiseFt, SweepEvaluatesEveryAlphaAndPicksTheBestByTheChosenMetric) {
  NamedTensors base, finetuned;
  base.insert("w", floats({0}));
  finetuned.insert("w", floats({10}));
  const WiseFtSweep sweep = wise_ft_sweep(base, finetuned, default_wise_ft_alphas(), [](const NamedTensors& w) {
    const double value = w.at("w").item<double>();
    return trainer::Metrics{{"id_loss", (value - 8) * (value - 8)}, {"ood_loss", (value - 4) * (value - 4)}};
  });
  ASSERT_EQ(sweep.points.size(), 11u);
  EXPECT_EQ(sweep.points[5].alpha, 0.5);
  EXPECT_NEAR(sweep.points[5].metrics.at("id_loss"), 9.0, 1e-9);
  EXPECT_EQ(best_wise_ft_point(sweep, "id_loss", /*higher_is_better=*/false), 8u);
  EXPECT_EQ(best_wise_ft_point(sweep, "ood_loss", /*higher_is_better=*/false), 4u);
  EXPECT_EQ(best_wise_ft_point(sweep, "ood_loss", /*higher_is_better=*/true), 10u);
  EXPECT_TRUE(contains(error_message([&] { best_wise_ft_point(sweep, "accuracy", true); }), "no metric 'accuracy'"));
  EXPECT_TRUE(contains(wise_ft_table(sweep), "| alpha | id_loss | ood_loss |"));
}

WiseFtSweep small_sweep() {
  WiseFtSweep sweep;
  for (int i = 0; i <= 4; ++i) {
    const double alpha = i / 4.0;
    sweep.points.push_back({alpha, {{"id_loss", 3 - 2 * alpha}, {"ood_loss", 2.5 - alpha + alpha * alpha}}});
  }
  return sweep;
}

TEST(WiseFtReport, WritesTableDataScriptAndPng) {
  const std::string dir = ladle::testing::make_temp_dir("wise-ft-report");
  ASSERT_TRUE(write_wise_ft_report(small_sweep(), dir));
  for (const char* name : {"wise_ft.md", "wise_ft.tsv", "wise_ft.gp", "wise_ft.png"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::path(dir) / name)) << name;
  }
  std::ifstream png(dir + "/wise_ft.png", std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  std::filesystem::remove_all(dir);
}

TEST(WiseFtReport, WithoutGnuplotSkipsThePlotButWritesTheScript) {
  const std::string dir = ladle::testing::make_temp_dir("wise-ft-no-gnuplot");
  const std::string saved_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", dir.c_str(), 1);  // a PATH with no gnuplot on it
  const bool plotted = write_wise_ft_report(small_sweep(), dir);
  setenv("PATH", saved_path.c_str(), 1);
  EXPECT_FALSE(plotted);
  EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::path(dir) / "wise_ft.gp"));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir) / "wise_ft.png"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ladle::callbacks
