#include "lib/search/cma_es.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "lib/search/symmetric_eigen.h"
#include "lib/util/error.h"
#include "lib/util/splitmix64.h"

namespace ladle::search {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMaxCondition = 1e14;

double norm(const std::vector<double>& v) {
  double sum = 0;
  for (const double x : v) sum += x * x;
  return std::sqrt(sum);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t half = values.size() / 2;
  return values.size() % 2 == 1 ? values[half] : (values[half - 1] + values[half]) / 2;
}

// +-infinity as JSON null (JSON has no infinities), and back.
nlohmann::json finite_or_null(double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(); }
double from_finite_or_null(const nlohmann::json& value, double otherwise) {
  return value.is_null() ? otherwise : value.get<double>();
}

}  // namespace

std::int64_t default_population(std::size_t n) {
  return 4 + static_cast<std::int64_t>(std::floor(3 * std::log(static_cast<double>(n))));
}

CmaEs::CmaEs(CmaEsOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  n_ = o.mean.size();
  if (n_ == 0) throw Error("CMA-ES: the initial mean is empty (its size is the search dimension)");
  if (!(o.sigma > 0) || !std::isfinite(o.sigma)) throw Error("CMA-ES: sigma must be positive");
  if (o.lower.empty() != o.upper.empty() || (!o.lower.empty() && (o.lower.size() != n_ || o.upper.size() != n_))) {
    throw Error("CMA-ES: lower and upper bounds need one value per coordinate (" + std::to_string(n_) + "), or none");
  }
  for (std::size_t i = 0; i < o.lower.size(); ++i) {
    if (!(o.lower[i] < o.upper[i])) throw Error("CMA-ES: coordinate " + std::to_string(i) + ": lower >= upper");
    if (o.mean[i] < o.lower[i] || o.mean[i] > o.upper[i]) {
      throw Error("CMA-ES: coordinate " + std::to_string(i) + " of the initial mean is outside its bounds");
    }
  }
  if (o.population != 0 && o.population < 2) throw Error("CMA-ES: the population must be at least 2 (or 0: default)");
  if (o.max_restarts < 0) throw Error("CMA-ES: max_restarts must be >= 0");
  start_run(o.population > 0 ? o.population : default_population(n_));
}

void CmaEs::set_strategy(std::int64_t lambda) {
  const double n = static_cast<double>(n_);
  lambda_ = lambda;
  mu_ = lambda / 2;
  // Table 1: w'_i = ln((lambda + 1) / 2) - ln i, positive for i <= mu; normalised to sum to one.
  weights_.assign(static_cast<std::size_t>(mu_), 0.0);
  for (std::int64_t i = 0; i < mu_; ++i) weights_[i] = std::log((lambda + 1) / 2.0) - std::log(i + 1.0);
  const double sum = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  double squares = 0;
  for (double& w : weights_) {
    w /= sum;
    squares += w * w;
  }
  mu_eff_ = 1 / squares;
  c_sigma_ = (mu_eff_ + 2) / (n + mu_eff_ + 5);
  d_sigma_ = 1 + 2 * std::max(0.0, std::sqrt((mu_eff_ - 1) / (n + 1)) - 1) + c_sigma_;
  c_c_ = (4 + mu_eff_ / n) / (n + 4 + 2 * mu_eff_ / n);
  const double alpha_cov = 2;
  c_1_ = alpha_cov / ((n + 1.3) * (n + 1.3) + mu_eff_);
  c_mu_ = std::min(1 - c_1_, alpha_cov * (mu_eff_ - 2 + 1 / mu_eff_) / ((n + 2) * (n + 2) + alpha_cov * mu_eff_ / 2));
  chi_n_ = std::sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));  // E||N(0, I)||
}

void CmaEs::start_run(std::int64_t lambda) {
  set_strategy(lambda);
  mean_ = options_.mean;
  sigma_ = options_.sigma;
  cov_.assign(n_ * n_, 0.0);
  basis_.assign(n_ * n_, 0.0);
  for (std::size_t i = 0; i < n_; ++i) cov_[i * n_ + i] = basis_[i * n_ + i] = 1;
  scales_.assign(n_, 1.0);
  path_sigma_.assign(n_, 0.0);
  path_c_.assign(n_, 0.0);
  run_generation_ = 0;
  best_history_.clear();
  median_history_.clear();
}

double CmaEs::standard_normal() {
  // Box-Muller from two uniforms of the splitmix64 stream: u1 in (0, 1], u2 in [0, 1).
  const std::uint64_t golden = 0x9E3779B97F4A7C15ull;
  const double u1 = static_cast<double>((splitmix64(options_.seed + draws_ * golden) >> 11) + 1) * 0x1.0p-53;
  const double u2 = static_cast<double>(splitmix64(options_.seed + (draws_ + 1) * golden) >> 11) * 0x1.0p-53;
  draws_ += 2;
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * kPi * u2);
}

std::vector<double> CmaEs::repaired(const std::vector<double>& x) const {
  if (options_.lower.empty()) return x;
  std::vector<double> inside(x);
  for (std::size_t i = 0; i < n_; ++i) inside[i] = std::clamp(x[i], options_.lower[i], options_.upper[i]);
  return inside;
}

double CmaEs::penalty(const std::vector<double>& x) const {
  if (options_.lower.empty()) return 0;
  const std::vector<double> inside = repaired(x);
  double sum = 0;
  for (std::size_t i = 0; i < n_; ++i) {
    const double distance = (x[i] - inside[i]) / (options_.upper[i] - options_.lower[i]);
    sum += distance * distance;
  }
  return options_.bound_penalty * sum;
}

std::vector<std::vector<double>> CmaEs::ask() {
  if (stopped()) throw Error("CMA-ES: ask() after the search stopped (" + stop_reason_ + ")");
  if (!pending_points_.empty()) throw Error("CMA-ES: ask() twice without tell()");
  std::vector<std::vector<double>> points;
  for (std::int64_t k = 0; k < lambda_; ++k) {
    std::vector<double> z(n_), y(n_, 0.0), x(n_);
    for (auto& value : z) value = standard_normal();
    for (std::size_t i = 0; i < n_; ++i) {
      for (std::size_t j = 0; j < n_; ++j) y[i] += basis_[i * n_ + j] * scales_[j] * z[j];
      x[i] = mean_[i] + sigma_ * y[i];
    }
    points.push_back(repaired(x));
    pending_points_.push_back(std::move(x));
    pending_steps_.push_back(std::move(y));
  }
  return points;
}

void CmaEs::tell(const std::vector<double>& values) {
  if (pending_points_.empty()) throw Error("CMA-ES: tell() without ask()");
  if (values.size() != static_cast<std::size_t>(lambda_)) {
    throw Error("CMA-ES: tell() got " + std::to_string(values.size()) + " values for " + std::to_string(lambda_) +
                " points");
  }
  evaluations_ += lambda_;
  std::vector<double> ranked(values.size());
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double value = std::isnan(values[k]) ? std::numeric_limits<double>::infinity() : values[k];
    ranked[k] = value + penalty(pending_points_[k]);
    if (value < best_value_) {
      best_value_ = value;
      best_point_ = repaired(pending_points_[k]);
    }
  }
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ranked[a] < ranked[b]; });

  // Mean (c_m = 1): m += sigma * y_w, y_w = sum_i w_i y_{i:lambda}.
  std::vector<double> y_w(n_, 0.0);
  for (std::int64_t i = 0; i < mu_; ++i) {
    for (std::size_t j = 0; j < n_; ++j) y_w[j] += weights_[i] * pending_steps_[order[i]][j];
  }
  for (std::size_t j = 0; j < n_; ++j) mean_[j] += sigma_ * y_w[j];

  // Conjugate evolution path: p_sigma = (1 - c_sigma) p_sigma + sqrt(c_sigma (2 - c_sigma) mu_eff) C^(-1/2) y_w,
  // C^(-1/2) = B D^-1 B^T.
  std::vector<double> rotated(n_, 0.0), whitened(n_, 0.0);
  for (std::size_t j = 0; j < n_; ++j) {
    for (std::size_t i = 0; i < n_; ++i) rotated[j] += basis_[i * n_ + j] * y_w[i];
    rotated[j] /= scales_[j];
  }
  for (std::size_t i = 0; i < n_; ++i) {
    for (std::size_t j = 0; j < n_; ++j) whitened[i] += basis_[i * n_ + j] * rotated[j];
  }
  const double sigma_gain = std::sqrt(c_sigma_ * (2 - c_sigma_) * mu_eff_);
  for (std::size_t i = 0; i < n_; ++i) path_sigma_[i] = (1 - c_sigma_) * path_sigma_[i] + sigma_gain * whitened[i];
  ++run_generation_;

  // h_sigma stalls p_c while ||p_sigma|| is large (the tutorial's eq. after (45)).
  const double path_norm = norm(path_sigma_);
  const double decay = 1 - std::pow(1 - c_sigma_, 2.0 * static_cast<double>(run_generation_));
  const bool h_sigma = path_norm / std::sqrt(decay) / chi_n_ < 1.4 + 2 / (static_cast<double>(n_) + 1);
  const double c_gain = std::sqrt(c_c_ * (2 - c_c_) * mu_eff_);
  for (std::size_t i = 0; i < n_; ++i) path_c_[i] = (1 - c_c_) * path_c_[i] + (h_sigma ? c_gain * y_w[i] : 0.0);

  // C = (1 + c1 delta(h_sigma) - c1 - c_mu) C + c1 p_c p_c^T + c_mu sum_i w_i y_i y_i^T   (sum w_i = 1).
  const double delta = h_sigma ? 0.0 : c_c_ * (2 - c_c_);
  const double keep = 1 + c_1_ * delta - c_1_ - c_mu_;
  for (std::size_t i = 0; i < n_; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      double rank_mu = 0;
      for (std::int64_t k = 0; k < mu_; ++k) {
        rank_mu += weights_[k] * pending_steps_[order[k]][i] * pending_steps_[order[k]][j];
      }
      const double value = keep * cov_[i * n_ + j] + c_1_ * path_c_[i] * path_c_[j] + c_mu_ * rank_mu;
      cov_[i * n_ + j] = cov_[j * n_ + i] = value;
    }
  }
  // Step size: sigma *= exp((c_sigma / d_sigma) (||p_sigma|| / E||N(0, I)|| - 1)).
  sigma_ *= std::exp(c_sigma_ / d_sigma_ * (path_norm / chi_n_ - 1));
  update_eigensystem();

  pending_points_.clear();
  pending_steps_.clear();
  ++generation_;
  std::vector<double> sorted(ranked);
  std::sort(sorted.begin(), sorted.end());
  end_generation(sorted);
}

void CmaEs::update_eigensystem() {
  const SymmetricEigen eigen = symmetric_eigen(cov_, n_);
  basis_ = eigen.vectors;
  for (std::size_t i = 0; i < n_; ++i) scales_[i] = std::sqrt(std::max(eigen.values[i], 1e-300));
}

std::string CmaEs::run_ending(const std::vector<double>& ranked_values) const {
  const double n = static_cast<double>(n_);
  const double lambda = static_cast<double>(lambda_);
  const auto fun_window = static_cast<std::size_t>(10 + std::ceil(30 * n / lambda));
  if (best_history_.size() >= fun_window) {
    double low = ranked_values.front(), high = ranked_values.back();
    for (auto it = best_history_.end() - fun_window; it != best_history_.end(); ++it) {
      low = std::min(low, *it);
      high = std::max(high, *it);
    }
    if (high - low < options_.tol_fun) return "tol_fun";
  }
  bool small = true;
  for (std::size_t i = 0; i < n_ && small; ++i) {
    small = sigma_ * std::abs(path_c_[i]) < options_.tol_x && sigma_ * std::sqrt(cov_[i * n_ + i]) < options_.tol_x;
  }
  if (small) return "tol_x";
  const auto stall_window = static_cast<std::size_t>(std::min(20000.0, 120 + 30 * n / lambda));
  if (best_history_.size() >= stall_window) {
    const std::size_t part = std::max<std::size_t>(1, stall_window / 5);
    auto no_progress = [&](const std::vector<double>& history) {
      const auto window_start = history.end() - static_cast<std::ptrdiff_t>(stall_window);
      return median({history.end() - static_cast<std::ptrdiff_t>(part), history.end()}) >=
             median({window_start, window_start + static_cast<std::ptrdiff_t>(part)});
    };
    if (no_progress(best_history_) && no_progress(median_history_)) return "stagnation";
  }
  const double largest = *std::max_element(scales_.begin(), scales_.end());
  const double smallest = *std::min_element(scales_.begin(), scales_.end());
  if (largest * largest > kMaxCondition * smallest * smallest) return "condition";
  const std::size_t axis = static_cast<std::size_t>(run_generation_) % n_;
  bool moved = false;
  for (std::size_t i = 0; i < n_; ++i) {
    moved = moved || mean_[i] + 0.1 * sigma_ * scales_[axis] * basis_[i * n_ + axis] != mean_[i];
  }
  if (!moved) return "no_effect_axis";
  for (std::size_t i = 0; i < n_; ++i) {
    if (mean_[i] + 0.2 * sigma_ * std::sqrt(cov_[i * n_ + i]) == mean_[i]) return "no_effect_coordinate";
  }
  return "";
}

void CmaEs::end_generation(const std::vector<double>& ranked_values) {
  if (options_.max_evaluations > 0 && evaluations_ >= options_.max_evaluations) {
    stop_reason_ = "max_evaluations";
  } else if (best_value_ <= options_.target_value) {
    stop_reason_ = "target_value";
  }
  const std::string ending = stopped() ? "" : run_ending(ranked_values);
  best_history_.push_back(ranked_values.front());
  median_history_.push_back(median(ranked_values));
  if (stopped()) {
    run_endings_.push_back(stop_reason_);
  } else if (!ending.empty()) {
    run_endings_.push_back(ending);
    if (restarts_ < options_.max_restarts) {
      ++restarts_;
      start_run(2 * lambda_);  // IPOP: the population doubles at each restart
    } else {
      stop_reason_ = ending;
    }
  }
}

nlohmann::json CmaEs::to_json() const {
  if (!pending_points_.empty()) throw Error("CMA-ES: the state is saved between generations, not after ask()");
  const auto& o = options_;
  return {
      {"options",
       {{"mean", o.mean},
        {"sigma", o.sigma},
        {"lower", o.lower},
        {"upper", o.upper},
        {"bound_penalty", o.bound_penalty},
        {"population", o.population},
        {"seed", o.seed},
        {"max_evaluations", o.max_evaluations},
        {"target_value", finite_or_null(o.target_value)},
        {"tol_fun", o.tol_fun},
        {"tol_x", o.tol_x},
        {"max_restarts", o.max_restarts}}},
      {"lambda", lambda_},
      {"mean", mean_},
      {"sigma", sigma_},
      {"cov", cov_},
      {"basis", basis_},
      {"scales", scales_},
      {"path_sigma", path_sigma_},
      {"path_c", path_c_},
      {"run_generation", run_generation_},
      {"best_history", best_history_},
      {"median_history", median_history_},
      {"generation", generation_},
      {"evaluations", evaluations_},
      {"restarts", restarts_},
      {"draws", draws_},
      {"best_point", best_point_},
      {"best_value", finite_or_null(best_value_)},
      {"stop_reason", stop_reason_},
      {"run_endings", run_endings_},
  };
}

CmaEs CmaEs::from_json(const nlohmann::json& state) {
  try {
    const auto& o = state.at("options");
    CmaEsOptions options;
    options.mean = o.at("mean").get<std::vector<double>>();
    options.sigma = o.at("sigma").get<double>();
    options.lower = o.at("lower").get<std::vector<double>>();
    options.upper = o.at("upper").get<std::vector<double>>();
    options.bound_penalty = o.at("bound_penalty").get<double>();
    options.population = o.at("population").get<std::int64_t>();
    options.seed = o.at("seed").get<std::uint64_t>();
    options.max_evaluations = o.at("max_evaluations").get<std::int64_t>();
    options.target_value = from_finite_or_null(o.at("target_value"), -std::numeric_limits<double>::infinity());
    options.tol_fun = o.at("tol_fun").get<double>();
    options.tol_x = o.at("tol_x").get<double>();
    options.max_restarts = o.at("max_restarts").get<int>();
    CmaEs search(options);  // validates the options
    search.set_strategy(state.at("lambda").get<std::int64_t>());
    search.mean_ = state.at("mean").get<std::vector<double>>();
    search.sigma_ = state.at("sigma").get<double>();
    search.cov_ = state.at("cov").get<std::vector<double>>();
    search.basis_ = state.at("basis").get<std::vector<double>>();
    search.scales_ = state.at("scales").get<std::vector<double>>();
    search.path_sigma_ = state.at("path_sigma").get<std::vector<double>>();
    search.path_c_ = state.at("path_c").get<std::vector<double>>();
    search.run_generation_ = state.at("run_generation").get<std::int64_t>();
    search.best_history_ = state.at("best_history").get<std::vector<double>>();
    search.median_history_ = state.at("median_history").get<std::vector<double>>();
    search.generation_ = state.at("generation").get<std::int64_t>();
    search.evaluations_ = state.at("evaluations").get<std::int64_t>();
    search.restarts_ = state.at("restarts").get<int>();
    search.draws_ = state.at("draws").get<std::uint64_t>();
    search.best_point_ = state.at("best_point").get<std::vector<double>>();
    search.best_value_ = from_finite_or_null(state.at("best_value"), std::numeric_limits<double>::infinity());
    search.stop_reason_ = state.at("stop_reason").get<std::string>();
    search.run_endings_ = state.at("run_endings").get<std::vector<std::string>>();
    const std::size_t n = search.n_;
    if (search.mean_.size() != n || search.cov_.size() != n * n || search.basis_.size() != n * n ||
        search.scales_.size() != n || search.path_sigma_.size() != n || search.path_c_.size() != n) {
      throw Error("the vectors do not match the dimension " + std::to_string(n));
    }
    return search;
  } catch (const nlohmann::json::exception& error) {
    throw Error(std::string("CMA-ES state: ") + error.what());
  } catch (const Error& error) {
    throw Error(std::string("CMA-ES state: ") + error.what());
  }
}

}  // namespace ladle::search
