// Merge weights for a series of checkpoints of one run, oldest first: the schemes of checkpoint merging in
// pre-training (Li et al. 2025, "Model Merging in Pre-training of Large Language Models", PMA, arXiv 2505.12082,
// section 3: SMA, EMA, WMA) and the weights that emulate a learning-rate decay (Tian et al. 2025, "WSM: Decay-Free
// Learning Rate Schedule via Checkpoint Merging", arXiv 2507.17634). `ladle merge-checkpoints` and the LAWA ring
// (averaging.lawa.scheme) weight their checkpoints with them.
//
// For N checkpoints theta_1 (oldest) .. theta_N (newest):
//   sma         w_i = 1/N
//   ema:ALPHA   w_i proportional to alpha (1 - alpha)^(N - i): the newest gets alpha, the oldest (1 - alpha)^(N-1)
//               times it; normalised to sum 1 (the recursion EMA_i = alpha theta_i + (1 - alpha) EMA_{i-1} started at
//               EMA_1 = theta_1 would give theta_1 the remaining mass instead; we follow the normalised form)
//   wma         w_i = i / (1 + 2 + ... + N) = 2i / (N (N + 1))
//   wsm:SHAPE   w_i = alpha_i - alpha_{i+1}, alpha_k = decay(u_k) at u_k = (k - 1)/N, k = 1 .. N + 1, with
//               linear 1 - u, cosine (1 + cos(pi u))/2, sqrt 1 - sqrt(u) (WSD's "1-sqrt" cooldown, Hägele et al.
//               2024): the decay's multipliers over the N checkpoint intervals, alpha_1 = 1, alpha_{N+1} = 0.
//
// Why WSM's weights are alpha_i - alpha_{i+1} (their section 3.1): a constant-rate run moves from checkpoint to
// checkpoint by Delta_k = theta_{k+1} - theta_k = -eta sum of the gradients of interval k, so
// theta_i = theta_1 + sum_{k<i} Delta_k. A run that decayed the rate from theta_1 on, scaling interval k by the
// multiplier alpha_{k+1}, ends at theta_1 + sum_{k=1}^{N-1} alpha_{k+1} Delta_k (taking the gradients as those of
// the constant-rate run, WSM's approximation). A merge sum_i w_i theta_i with sum_i w_i = 1 equals
// theta_1 + sum_k (sum_{i>k} w_i) Delta_k, so it is that run when sum_{i>k} w_i = alpha_{k+1} for every k, i.e.
// w_i = alpha_i - alpha_{i+1} with alpha_1 = 1 = sum_i w_i and alpha_{N+1} = 0. For a non-increasing decay every
// w_i >= 0 and they telescope to alpha_1 - alpha_{N+1} = 1; a linear decay has equal steps, so its weights are
// uniform (wsm:linear = sma).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ladle::merge {

enum class SeriesScheme { sma, ema, wma, wsm };

// The decay schedule wsm emulates: alpha(u) on u in [0, 1], from 1 down to 0.
enum class DecayShape { linear, cosine, sqrt };

struct SeriesWeighting {
  SeriesScheme scheme = SeriesScheme::sma;
  double alpha = 0.2;                      // ema's alpha in (0, 1] (PMA's EMA uses 0.2 among others)
  DecayShape decay = DecayShape::linear;  // wsm's emulated decay
};

// "sma", "wma", "ema:ALPHA" with ALPHA in (0, 1], "wsm:cosine", "wsm:linear", "wsm:sqrt". Throws ladle::Error
// "expected sma, ema:ALPHA (ALPHA in (0, 1]), wma or wsm:cosine|linear|sqrt, got '...'" (the caller prefixes where
// the text came from).
SeriesWeighting parse_series_weighting(const std::string& text);
// The text parse_series_weighting reads back ("ema:0.2").
std::string series_weighting_name(const SeriesWeighting& weighting);
// What parse_series_weighting accepts, for help texts and errors.
inline constexpr const char* kSeriesWeightingSyntax = "sma, ema:ALPHA (ALPHA in (0, 1]), wma or wsm:cosine|linear|sqrt";

// The weights of `count` checkpoints, oldest first (see above); they sum to 1 up to rounding. Throws ladle::Error for
// count 0.
std::vector<double> series_weights(const SeriesWeighting& weighting, std::size_t count);

}  // namespace ladle::merge
