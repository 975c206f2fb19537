// CMA-ES, the covariance matrix adaptation evolution strategy, as Hansen's tutorial states it ("The CMA Evolution
// Strategy: A Tutorial", arXiv:1604.00772, Fig. 7 and Table 1), minimising f: R^n -> R through an ask/tell loop:
//
//   CmaEsOptions options;
//   options.mean = x0;
//   options.sigma = 0.3;
//   CmaEs search(options);
//   while (!search.stopped()) {
//     const auto points = search.ask();              // lambda points to evaluate
//     std::vector<double> values;
//     for (const auto& x : points) values.push_back(f(x));
//     search.tell(values);
//   }
//   search.best_point(), search.best_value();
//
// One generation: z_k ~ N(0, I), y_k = B D z_k, x_k = m + sigma y_k; the mean moves to the weighted mean of the mu
// best; the paths p_sigma (conjugate) and p_c follow it; C gets the rank-one (c1 p_c p_c^T) and rank-mu updates;
// sigma follows ||p_sigma|| against E||N(0, I)||. Weights are the tutorial's positive log-weights
// w'_i = ln((lambda + 1) / 2) - ln i for i <= mu, normalised to sum 1 (no negative "active" weights). B and D come from
// C's eigendecomposition every generation (lib/search/symmetric_eigen.h: deterministic, cheap for the small n this
// is meant for).
//
// Bounds (the tutorial's Appendix B.3, "repair" with a penalty): a sample outside the box is evaluated at its
// projection onto the box (what ask() returns), and ranked by f(projection) + bound_penalty * ||x - projection||^2,
// distances measured in units of each coordinate's box width; the update uses the unrepaired sample, so the
// distribution is pushed back into the box instead of piling up on its faces.
//
// Termination (the tutorial's Appendix B.3 and Hansen's cma.py defaults). The search stops for good on
// max_evaluations or target_value; a run ends, and an IPOP restart (Auger & Hansen, CEC 2005: the same x0 and
// sigma0, lambda doubled) begins while restarts remain, on:
//   tol_fun      the best values of the last 10 + ceil(30 n / lambda) generations and all of this one's lie within
//                tol_fun of each other
//   tol_x        sigma * p_c,i and sigma * sqrt(C_ii) are all below tol_x
//   stagnation   over the last 120 + 30 n / lambda generations (at most 20000) the median of the best and of the
//                median values of the last 20% of them is no better than that of the first 20%
//   condition    the condition number of C exceeds 1e14
//   no effect    adding 0.1 sigma along a principal axis (axis g mod n), or 0.2 sigma sqrt(C_ii) to a coordinate,
//                leaves the mean unchanged in double precision
// Random numbers: standard normals by Box-Muller from a counter-based splitmix64 stream (lib/util/splitmix64.h), so
// the whole state is a few numbers: to_json()/from_json() round-trip it exactly and a resumed search continues with
// the same sequence of points, bit for bit.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ladle::search {

struct CmaEsOptions {
  std::vector<double> mean;              // x0, the initial mean; its size is the dimension n (>= 1)
  double sigma = 0.3;                    // sigma0 > 0, the initial step size (about a quarter of the box width)
  std::vector<double> lower, upper;      // box bounds per coordinate; both empty: unbounded
  double bound_penalty = 1.0;            // weight of the squared distance to the box, in box-width units
  std::int64_t population = 0;           // lambda of the first run; 0: 4 + floor(3 ln n)
  std::uint64_t seed = 0;                // the random stream
  std::int64_t max_evaluations = 0;      // stop after this many f-values (0: no limit)
  double target_value = -std::numeric_limits<double>::infinity();  // stop once a value <= this is seen
  double tol_fun = 1e-12;                // see the header comment
  double tol_x = 1e-11;                  // see the header comment
  int max_restarts = 0;                  // IPOP restarts after the first run ends (0: none)
};

// lambda = 4 + floor(3 ln n), the tutorial's default population size.
std::int64_t default_population(std::size_t n);

class CmaEs {
 public:
  // Throws ladle::Error for an empty mean, sigma <= 0, bounds of the wrong size or with lower >= upper, a mean
  // outside the box, or a population below 2.
  explicit CmaEs(CmaEsOptions options);

  // The generation's lambda points, inside the box. Call tell() before the next ask(). Throws once stopped().
  std::vector<std::vector<double>> ask();
  // The f-values of the points ask() returned, in that order (NaN is ranked worst).
  void tell(const std::vector<double>& values);

  bool stopped() const { return !stop_reason_.empty(); }
  // Why the search stopped ("max_evaluations", "target_value", or a run's criterion when no restart remained).
  const std::string& stop_reason() const { return stop_reason_; }
  // What ended each finished run, in order (the last one may be the final stop_reason).
  const std::vector<std::string>& run_endings() const { return run_endings_; }

  const std::vector<double>& best_point() const { return best_point_; }  // inside the box; empty before tell()
  double best_value() const { return best_value_; }                      // f(best_point()) without penalty
  const std::vector<double>& mean() const { return mean_; }
  double sigma() const { return sigma_; }
  std::int64_t population() const { return lambda_; }
  std::int64_t parents() const { return mu_; }
  std::int64_t generation() const { return generation_; }  // generations told, over every run
  std::int64_t evaluations() const { return evaluations_; }
  int restarts() const { return restarts_; }
  std::size_t dimension() const { return n_; }

  // The whole state between generations (throws between ask() and tell()); from_json(to_json()) continues exactly.
  nlohmann::json to_json() const;
  static CmaEs from_json(const nlohmann::json& state);

 private:
  CmaEs() = default;
  void set_strategy(std::int64_t lambda);  // the strategy parameters of Table 1 for a population size
  void start_run(std::int64_t lambda);     // set_strategy, and a fresh distribution at x0 and sigma0
  void update_eigensystem();
  double standard_normal();
  std::vector<double> repaired(const std::vector<double>& x) const;  // projected onto the box
  double penalty(const std::vector<double>& x) const;                // bound_penalty * ||x - repaired(x)||^2
  // The criterion that ends the current run after a generation whose ranked values are given, or "".
  std::string run_ending(const std::vector<double>& ranked_values) const;
  void end_generation(const std::vector<double>& ranked_values);  // histories, stop and restart decisions

  CmaEsOptions options_;
  std::size_t n_ = 0;
  // Strategy parameters of the current run (Table 1).
  std::int64_t lambda_ = 0, mu_ = 0;
  std::vector<double> weights_;
  double mu_eff_ = 0, c_sigma_ = 0, d_sigma_ = 0, c_c_ = 0, c_1_ = 0, c_mu_ = 0, chi_n_ = 0;
  // The distribution.
  std::vector<double> mean_;
  double sigma_ = 0;
  std::vector<double> cov_, basis_, scales_;  // C and B (n x n, row-major), D (sqrt of C's eigenvalues)
  std::vector<double> path_sigma_, path_c_;
  std::int64_t run_generation_ = 0;
  // Histories for tol_fun and stagnation: each generation's best and median value of this run.
  std::vector<double> best_history_, median_history_;
  // Bookkeeping over every run.
  std::int64_t generation_ = 0, evaluations_ = 0;
  int restarts_ = 0;
  std::uint64_t draws_ = 0;  // uniforms drawn from the stream so far
  std::vector<double> best_point_;
  double best_value_ = std::numeric_limits<double>::infinity();
  std::string stop_reason_;
  std::vector<std::string> run_endings_;
  // The samples of the generation asked and not yet told: unrepaired points and their y = (x - m) / sigma.
  std::vector<std::vector<double>> pending_points_, pending_steps_;
};

}  // namespace ladle::search
