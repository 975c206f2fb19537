// EDM2's power-function EMA (callbacks/power_ema.h): beta_t against its closed form, sigma_rel <-> gamma against
// the paper's values and the cubic, the profiles' inner products against numerical integration, and EmaAverage with
// a power profile against the same recursion computed independently by numpy.
#include "callbacks/power_ema.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include <cmath>
#include <sstream>

#include "callbacks/ema_average.h"
#include "lib/weights/flat_parameters.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

// beta_t = (1 - 1/t)^(gamma+1) (EDM2 eq. 3); after delta steps without an update (1 - delta/t)^(gamma+1).
TEST(PowerEma, BetaFollowsTheClosedForm) {
  EXPECT_EQ(power_ema_beta(6.94, 1, 1), 0.0);  // the first step copies
  EXPECT_DOUBLE_EQ(power_ema_beta(0.0, 2, 1), 0.5);
  EXPECT_DOUBLE_EQ(power_ema_beta(1.0, 4, 1), 0.75 * 0.75);
  EXPECT_DOUBLE_EQ(power_ema_beta(2.0, 10, 1), 0.9 * 0.9 * 0.9);
  EXPECT_DOUBLE_EQ(power_ema_beta(1.0, 10, 5), 0.25);
  EXPECT_EQ(power_ema_beta(3.0, 7, 7), 0.0);
  EXPECT_TRUE(contains(error_message([] { power_ema_beta(-1.0, 5, 1); }), "gamma > -1"));
}

// gamma 0 weighs every iterate alike: the uniform profile on [0, t] has sigma/t = 1/sqrt(12).
TEST(PowerEma, SigmaRelOfGammaZeroIsTheUniformProfilesWidth) {
  EXPECT_NEAR(sigma_rel_of_gamma(0.0), 1.0 / std::sqrt(12.0), 1e-15);
}

// EDM2 section 3.1: sigma_rel 0.05 and 0.10 correspond to gamma 16.97 and 6.94.
TEST(PowerEma, SigmaRelToGammaGivesThePapersValues) {
  EXPECT_NEAR(gamma_of_sigma_rel(0.05), 16.97, 0.005);
  EXPECT_NEAR(gamma_of_sigma_rel(0.10), 6.94, 0.005);
}

// The returned gamma is a root of gamma^3 + 7 gamma^2 + (16 - s^-2) gamma + (12 - s^-2) and maps back to sigma_rel.
TEST(PowerEma, SigmaRelRoundTripsThroughTheCubicsLargestRoot) {
  for (double sigma_rel : {0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.28}) {
    const double gamma = gamma_of_sigma_rel(sigma_rel);
    const double s = 1.0 / (sigma_rel * sigma_rel);
    const double cubic = gamma * gamma * gamma + 7 * gamma * gamma + (16 - s) * gamma + (12 - s);
    EXPECT_NEAR(cubic / s, 0.0, 1e-12) << sigma_rel;
    EXPECT_NEAR(sigma_rel_of_gamma(gamma), sigma_rel, 1e-12 * sigma_rel) << sigma_rel;
    EXPECT_GT(gamma, -1.0);
  }
  EXPECT_TRUE(contains(error_message([] { gamma_of_sigma_rel(0.5); }), "no power profile"));
  EXPECT_TRUE(contains(error_message([] { gamma_of_sigma_rel(0.0); }), "expected a number > 0"));
}

// <p_i, p_j> against Simpson's rule over [0, min(t_i, t_j)] of the product of the two profiles.
TEST(PowerEma, ProfileInnerProductMatchesNumericalIntegration) {
  const auto profile = [](double tau, double t, double gamma) {
    return (gamma + 1) * std::pow(tau, gamma) / std::pow(t, gamma + 1);
  };
  const struct {
    double t_i, gamma_i, t_j, gamma_j;
  } cases[] = {{100, 6.94, 100, 16.97}, {40, 6.94, 100, 6.94}, {100, 16.97, 37, 2.5}, {5, 0.0, 9, 1.0}};
  for (const auto& c : cases) {
    const double end = std::min(c.t_i, c.t_j);
    const int n = 20000;  // even
    const double h = end / n;
    double sum = 0;
    for (int k = 0; k <= n; ++k) {
      const double weight = (k == 0 || k == n) ? 1 : (k % 2 == 1 ? 4 : 2);
      sum += weight * profile(k * h, c.t_i, c.gamma_i) * profile(k * h, c.t_j, c.gamma_j);
    }
    const double numeric = sum * h / 3;
    EXPECT_NEAR(power_profile_inner_product(c.t_i, c.gamma_i, c.t_j, c.gamma_j), numeric, 1e-8 * numeric)
        << c.t_i << " " << c.gamma_i << " " << c.t_j << " " << c.gamma_j;
  }
}

// A power EMA updated every `every` steps over weights constant until step 20 and linear in the step after, in
// fp64, against numpy's run of the same recursion (avg <- beta avg + (1 - beta) w, beta = (1 - delta/t)^(gamma+1)).
void expect_power_ema_matches_numpy(std::int64_t every) {
  torch::nn::Linear layer(5, 3);
  layer->to(at::kDouble);
  FlatParameters live(*layer);
  const at::Tensor& values = live.groups().at(0).values;
  const at::Tensor base = at::arange(values.numel(), at::kDouble) / 7.0 - 1.0;
  const at::Tensor slope = at::cos(at::arange(values.numel(), at::kDouble));
  const double gamma = gamma_of_sigma_rel(0.1);
  EmaOptions options;
  options.power_gamma = gamma;
  options.schedule.every = every;
  EmaAverage ema(live, {}, options);
  const std::int64_t steps = 60;
  for (std::int64_t step = 1; step <= steps; ++step) {
    {
      at::NoGradGuard no_grad;
      values.copy_(base + slope * static_cast<double>(std::max<std::int64_t>(0, step - 20)));
    }
    ema.on_optimizer_step(step);
  }
  std::ostringstream script;
  script.precision(17);
  script << "import numpy as np\n"
         << "n, steps, every, gamma = " << values.numel() << ", " << steps << ", " << every << ", " << gamma << "\n"
         << "base = np.arange(n) / 7.0 - 1.0\nslope = np.cos(np.arange(n))\n"
         << "avg, last = np.zeros(n), 0\n"
         << "for t in range(every, steps + 1, every):\n"
         << "    w = base + slope * max(0, t - 20)\n"
         << "    beta = (1 - (t - last) / t) ** (gamma + 1)\n"
         << "    avg = beta * avg + (1 - beta) * w\n"
         << "    last = t\n"
         << "print(' '.join(repr(float(v)) for v in avg))\n";
  const auto result = ladle::testing::run_command(ladle::testing::python_program(), {"-c", script.str()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream expected(result.out);
  const at::Tensor average = ema.averaged_flat_values().at(0);
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    double reference = 0;
    ASSERT_TRUE(expected >> reference) << result.out;
    EXPECT_NEAR(average[i].item<double>(), reference, 1e-12 * (1 + std::abs(reference))) << "element " << i;
  }
}

TEST(PowerEma, EveryStepUpdatesMatchNumpysRecursion) { expect_power_ema_matches_numpy(1); }
TEST(PowerEma, UpdatesEveryThreeStepsMatchNumpysRecursion) { expect_power_ema_matches_numpy(3); }

TEST(PowerEma, RefusesWarmupAndGammaAtMostMinusOne) {
  torch::nn::Linear layer(2, 2);
  FlatParameters live(*layer);
  EmaOptions options;
  options.power_gamma = 5.0;
  options.warmup = true;
  EXPECT_TRUE(contains(error_message([&] { EmaAverage(live, {}, options); }), "takes no warmup"));
  options.warmup = false;
  options.power_gamma = -1.0;
  EXPECT_TRUE(contains(error_message([&] { EmaAverage(live, {}, options); }), "expected a number > -1"));
}

}  // namespace
}  // namespace ladle::callbacks
