// Post-hoc EMA (callbacks/posthoc_ema.h): the least-squares weights against numpy's solve of the same system, and
// reconstructions from power-EMA snapshots against EMAs of the target width tracked directly over the same weights.
#include "callbacks/posthoc_ema.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include <cmath>
#include <sstream>

#include "callbacks/ema_average.h"
#include "callbacks/power_ema.h"
#include "lib/weights/flat_parameters.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::callbacks {
namespace {

// Ten snapshots (two widths, five steps) and a target between them: numpy builds the Gram matrix from EDM2's
// closed form (eq. 21) and solves it with np.linalg.lstsq(rcond=None), as their solve_posthoc_coefficients does.
TEST(PosthocEma, CoefficientsMatchNumpysLeastSquares) {
  std::vector<PosthocSnapshot> snapshots;
  for (const std::int64_t step : {200, 400, 600, 800, 1000}) {
    for (const double sigma_rel : {0.05, 0.10}) snapshots.push_back({"", step, gamma_of_sigma_rel(sigma_rel)});
  }
  const double target_gamma = gamma_of_sigma_rel(0.07);
  const std::vector<double> weights = posthoc_ema_coefficients(snapshots, target_gamma, 1000);
  std::ostringstream script;
  script.precision(17);
  script << "import numpy as np\nts = np.array([" ;
  for (const auto& s : snapshots) script << s.step << ".0, ";
  script << "])\ngs = np.array([";
  for (const auto& s : snapshots) script << s.gamma << ", ";
  script << "])\n"
         << "def dot(ta, ga, tb, gb):\n"
         << "    gs = ga + gb + 1\n"
         << "    return (ga + 1) * (gb + 1) * np.minimum(ta, tb) ** gs / (gs * ta ** (ga + 1) * tb ** (gb + 1))\n"
         << "A = dot(ts[:, None], gs[:, None], ts[None, :], gs[None, :])\n"
         << "b = dot(ts, gs, 1000.0, " << target_gamma << ")\n"
         << "x = np.linalg.lstsq(A, b, rcond=None)[0]\n"
         << "print(' '.join(repr(float(v)) for v in x))\n";
  const auto result = ladle::testing::run_command(ladle::testing::python_program(), {"-c", script.str()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream expected(result.out);
  double largest = 0;
  for (const double w : weights) largest = std::max(largest, std::abs(w));
  for (std::size_t i = 0; i < weights.size(); ++i) {
    double reference = 0;
    ASSERT_TRUE(expected >> reference) << result.out;
    EXPECT_NEAR(weights[i], reference, 1e-6 * largest) << "snapshot " << i;
  }
}

// A snapshot of a tracked width at the target step is its own best reconstruction.
TEST(PosthocEma, ATrackedWidthAtASnapshotStepIsThatSnapshot) {
  std::vector<PosthocSnapshot> snapshots;
  for (const std::int64_t step : {50, 100}) {
    for (const double sigma_rel : {0.05, 0.10}) snapshots.push_back({"", step, gamma_of_sigma_rel(sigma_rel)});
  }
  const std::vector<double> weights = posthoc_ema_coefficients(snapshots, gamma_of_sigma_rel(0.10), 100);
  for (std::size_t i = 0; i < weights.size(); ++i) EXPECT_NEAR(weights[i], i == 3 ? 1.0 : 0.0, 1e-6) << i;
}

// Runs power EMAs of sigma_rel 0.05 and 0.10 (snapshotted every `every` steps) and one of 0.07 directly over a
// random walk of `steps` steps, and returns ||reconstruction - direct|| / ||direct - start||: the error relative to
// how far the weights moved.
double reconstruction_error(std::int64_t steps, std::int64_t every, double target_sigma_rel) {
  torch::nn::Linear layer(16, 16);
  layer->to(at::kDouble);
  FlatParameters live(*layer);
  const at::Tensor& values = live.groups().at(0).values;
  const at::Tensor start = values.clone();
  std::vector<std::unique_ptr<EmaAverage>> tracked;
  for (const double sigma_rel : {0.05, 0.10, target_sigma_rel}) {
    EmaOptions options;
    options.power_gamma = gamma_of_sigma_rel(sigma_rel);
    tracked.push_back(std::make_unique<EmaAverage>(live, NamedTensors{}, options));
  }
  std::vector<PosthocSnapshot> snapshots;
  std::vector<at::Tensor> snapshot_values;
  at::manual_seed(7);
  for (std::int64_t step = 1; step <= steps; ++step) {
    {
      at::NoGradGuard no_grad;
      values.add_(at::randn_like(values) * 0.01 + 0.002);  // a drift plus noise, like SGD's iterates
    }
    for (auto& ema : tracked) ema->on_optimizer_step(step);
    if (step % every != 0 && step != steps) continue;
    for (std::size_t k = 0; k < 2; ++k) {
      snapshots.push_back({"", step, *tracked[k]->options().power_gamma});
      snapshot_values.push_back(tracked[k]->averaged_flat_values().at(0).clone());
    }
  }
  const std::vector<double> weights =
      posthoc_ema_coefficients(snapshots, *tracked[2]->options().power_gamma, steps);
  at::Tensor reconstruction = at::zeros_like(start);
  for (std::size_t i = 0; i < weights.size(); ++i) reconstruction += weights[i] * snapshot_values[i];
  const at::Tensor direct = tracked[2]->averaged_flat_values().at(0);
  return (reconstruction - direct).norm().item<double>() / (direct - start).norm().item<double>();
}

// EDM2 (section 3.2) reconstructs nearly exactly with snapshots every step; the profiles are the continuous limit
// of the discrete recursion, which a run of a few hundred steps follows to well under a percent.
TEST(PosthocEma, SnapshotsEveryStepReproduceATrackedEma) {
  const double error = reconstruction_error(400, 1, 0.07);
  std::cout << "post-hoc EMA, snapshots every step, sigma_rel 0.07 over 400 steps: relative error " << error << "\n";
  EXPECT_LT(error, 5e-3);
}

TEST(PosthocEma, SparseSnapshotsReconstructATrackedWidthClosely) {
  const double error = reconstruction_error(400, 40, 0.07);
  std::cout << "post-hoc EMA, snapshots every 40 steps, sigma_rel 0.07 over 400 steps: relative error " << error
            << "\n";
  EXPECT_LT(error, 2e-2);
}

TEST(PosthocEma, RefusesARunWithoutSnapshots) {
  const std::string dir = ladle::testing::make_temp_dir("posthoc-none");
  EXPECT_TRUE(ladle::testing::contains(ladle::testing::error_message([&] { find_posthoc_snapshots(dir); }),
                                       "has no posthoc/ folder"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ladle::callbacks
