// CMA-ES on the standard test functions, against the convergence the literature reports for its defaults: Hansen's
// tutorial (arXiv:1604.00772) and cma.py's documented runs (sphere 10-D to 1e-10 in ~1,500-2,000 evaluations,
// Rosenbrock 10-D in ~5,000-7,000), and IPOP-CMA-ES (Auger & Hansen, CEC 2005) solving Rastrigin with restarts.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "lib/search/cma_es.h"
#include "lib/util/error.h"

namespace ladle::search {
namespace {

using Function = std::function<double(const std::vector<double>&)>;

double sphere(const std::vector<double>& x) {
  double sum = 0;
  for (const double v : x) sum += v * v;
  return sum;
}

double rosenbrock(const std::vector<double>& x) {
  double sum = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    sum += 100 * std::pow(x[i] * x[i] - x[i + 1], 2) + std::pow(1 - x[i], 2);
  }
  return sum;
}

double rastrigin(const std::vector<double>& x) {
  double sum = 10.0 * static_cast<double>(x.size());
  for (const double v : x) sum += v * v - 10 * std::cos(2 * M_PI * v);
  return sum;
}

// Runs the search to its end; returns every point it asked for, in order.
std::vector<std::vector<double>> minimise(CmaEs& search, const Function& f) {
  std::vector<std::vector<double>> asked;
  while (!search.stopped()) {
    const auto points = search.ask();
    std::vector<double> values;
    for (const auto& x : points) {
      values.push_back(f(x));
      asked.push_back(x);
    }
    search.tell(values);
  }
  return asked;
}

CmaEsOptions options_at(std::vector<double> mean, double sigma, std::uint64_t seed) {
  CmaEsOptions options;
  options.mean = std::move(mean);
  options.sigma = sigma;
  options.seed = seed;
  return options;
}

TEST(CmaEs, DefaultPopulationIsFourPlusThreeLogN) {
  EXPECT_EQ(default_population(1), 4);
  EXPECT_EQ(default_population(2), 6);    // 4 + floor(2.08)
  EXPECT_EQ(default_population(10), 10);  // 4 + floor(6.91)
  EXPECT_EQ(default_population(100), 17);  // 4 + floor(13.8)
  const CmaEs search(options_at(std::vector<double>(10, 1.0), 0.5, 0));
  EXPECT_EQ(search.population(), 10);
  EXPECT_EQ(search.parents(), 5);
}

// Minimises f from x0 with three seeds, each until f <= 1e-10 or `budget` evaluations; returns the searches.
std::vector<CmaEs> run_to_target(const Function& f, const std::vector<double>& x0, std::int64_t budget) {
  std::vector<CmaEs> searches;
  for (std::uint64_t seed : {1, 2, 3}) {
    CmaEsOptions options = options_at(x0, 0.5, seed);
    options.target_value = 1e-10;
    options.max_evaluations = budget;
    searches.emplace_back(options);
    minimise(searches.back(), f);
    EXPECT_EQ(searches.back().stop_reason(), "target_value") << "seed " << seed << ": "
                                                             << searches.back().evaluations() << " evaluations";
  }
  return searches;
}

TEST(CmaEs, SphereTenDimensionsReachesOneEMinusTenWithinThreeThousandEvaluations) {
  for (const auto& search : run_to_target(sphere, std::vector<double>(10, 1.0), 3000)) {
    EXPECT_LE(search.best_value(), 1e-10);
  }
}

TEST(CmaEs, RosenbrockTenDimensionsConvergesWithinTenThousandEvaluations) {
  for (const auto& search : run_to_target(rosenbrock, std::vector<double>(10, 0.1), 10000)) {
    EXPECT_NEAR(search.best_point()[9], 1.0, 1e-4);  // the optimum is (1, ..., 1)
  }
}

TEST(CmaEs, RastriginFiveDimensionsReachesTheGlobalOptimumWithIpopRestarts) {
  CmaEsOptions options = options_at({3.1, -2.2, 4.0, -3.7, 1.3}, 2.5, 7);
  options.lower.assign(5, -5.12);
  options.upper.assign(5, 5.12);
  options.target_value = 1e-8;
  options.max_restarts = 9;
  options.max_evaluations = 200000;
  CmaEs search(options);
  minimise(search, rastrigin);
  EXPECT_EQ(search.stop_reason(), "target_value") << search.evaluations() << " evals, " << search.restarts()
                                                  << " restarts";
  EXPECT_GE(search.restarts(), 1) << "the first run (lambda 8) should end in a local optimum";
  for (const double x : search.best_point()) EXPECT_NEAR(x, 0.0, 1e-4);
}

TEST(CmaEs, RestartsDoubleThePopulation) {
  CmaEsOptions options = options_at({0.5, 0.5}, 0.1, 3);
  options.tol_fun = 1e-3;  // ends each run early
  options.max_restarts = 2;
  CmaEs search(options);
  minimise(search, sphere);
  EXPECT_EQ(search.restarts(), 2);
  EXPECT_EQ(search.population(), 6 * 4);
  ASSERT_EQ(search.run_endings().size(), 3u);
  EXPECT_EQ(search.stop_reason(), search.run_endings().back());
}

TEST(CmaEs, BoundedSearchOnlyAsksForPointsInsideTheBox) {
  CmaEsOptions options = options_at({0.9, 0.9, 0.9}, 0.5, 5);
  options.lower.assign(3, 0.0);
  options.upper.assign(3, 1.0);
  options.max_evaluations = 700;
  CmaEs search(options);
  // The unconstrained optimum (2, 2, 2) is outside: the box's corner (1, 1, 1) is the constrained one.
  const auto asked = minimise(search, [](const std::vector<double>& x) {
    double sum = 0;
    for (const double v : x) sum += (v - 2) * (v - 2);
    return sum;
  });
  for (const auto& x : asked) {
    for (const double v : x) {
      EXPECT_GE(v, 0.0);
      EXPECT_LE(v, 1.0);
    }
  }
  for (const double v : search.best_point()) EXPECT_NEAR(v, 1.0, 1e-6);
}

TEST(CmaEs, SeededRunsAreBitIdentical) {
  CmaEsOptions options = options_at(std::vector<double>(6, 0.3), 0.4, 11);
  options.max_evaluations = 600;
  CmaEs first(options), second(options);
  EXPECT_EQ(minimise(first, rosenbrock), minimise(second, rosenbrock));
  EXPECT_EQ(first.best_value(), second.best_value());
  CmaEs seed_11(options);
  options.seed = 12;
  CmaEs seed_12(options);
  EXPECT_NE(seed_11.ask(), seed_12.ask());
}

TEST(CmaEs, ResumedFromSerialisedStateContinuesWithTheIdenticalSequence) {
  CmaEsOptions options = options_at({1.0, 2.0, -1.0, 0.5}, 0.5, 21);
  options.lower.assign(4, -3.0);
  options.upper.assign(4, 3.0);
  options.max_restarts = 3;
  options.tol_fun = 1e-6;  // restarts happen within the run
  options.max_evaluations = 1500;
  CmaEs uninterrupted(options);
  const auto expected = minimise(uninterrupted, rastrigin);

  CmaEs first_part(options);
  std::vector<std::vector<double>> asked;
  for (int generation = 0; generation < 40; ++generation) {
    const auto points = first_part.ask();
    std::vector<double> values;
    for (const auto& x : points) values.push_back(rastrigin(x));
    asked.insert(asked.end(), points.begin(), points.end());
    first_part.tell(values);
  }
  // Through text, as a state file on disk is.
  CmaEs resumed = CmaEs::from_json(nlohmann::json::parse(first_part.to_json().dump()));
  const auto rest = minimise(resumed, rastrigin);
  asked.insert(asked.end(), rest.begin(), rest.end());
  EXPECT_EQ(asked, expected);
  EXPECT_EQ(resumed.best_point(), uninterrupted.best_point());
  EXPECT_EQ(resumed.restarts(), uninterrupted.restarts());
  EXPECT_GE(uninterrupted.restarts(), 1);
}

TEST(CmaEs, RejectsBadOptions) {
  EXPECT_THROW(CmaEs(options_at({}, 0.3, 0)), Error);
  EXPECT_THROW(CmaEs(options_at({0.0}, 0.0, 0)), Error);
  CmaEsOptions outside = options_at({2.0}, 0.3, 0);
  outside.lower = {0.0};
  outside.upper = {1.0};
  EXPECT_THROW(CmaEs{outside}, Error);
  CmaEs search(options_at({0.0, 0.0}, 0.3, 0));
  search.ask();
  EXPECT_THROW(search.ask(), Error);
  EXPECT_THROW(search.to_json(), Error);
  EXPECT_THROW(search.tell({1.0}), Error);
}

}  // namespace
}  // namespace ladle::search
