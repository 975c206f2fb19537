// The power-function EMA of Karras et al. 2024, "Analyzing and Improving the Training Dynamics of Diffusion Models"
// (EDM2, arXiv 2312.02696, section 3.1 and appendix C.1): an average whose weight on the training iterate of step
// tau is proportional to tau^gamma, for every length of the run. Its profile at step t is
//   p_t(tau) = (gamma + 1) tau^gamma / t^(gamma + 1)   on [0, t]                          (EDM2 eq. 4, normalised),
// reached by the update beta_t = (1 - 1/t)^(gamma + 1) (eq. 3) at every step, or (1 - delta/t)^(gamma + 1) after
// delta steps without an update (their reference code's power_function_beta(std, t_next, t_delta)). Its width
// relative to the run, the standard deviation of p_t divided by t (appendix C.1, eq. 15), is
//   sigma_rel = sqrt(gamma + 1) / ((gamma + 2) sqrt(gamma + 3)),
// independent of t.
#pragma once

#include <cstdint>

namespace ladle::callbacks {

// beta = (1 - delta/step)^(gamma + 1): the weight of the old average in the update at optimizer step `step` that
// follows `delta` steps after the previous one (delta = step for the first update: beta 0, a copy). gamma > -1,
// 1 <= delta <= step.
double power_ema_beta(double gamma, std::int64_t step, std::int64_t delta);

// sigma_rel of gamma > -1 (decreasing in gamma: from +inf near -1 towards 0).
double sigma_rel_of_gamma(double gamma);

// The gamma of `sigma_rel` > 0: the largest real root of gamma^3 + 7 gamma^2 + (16 - sigma_rel^-2) gamma +
// (12 - sigma_rel^-2) = 0, which is sigma_rel_of_gamma(gamma)^2 = sigma_rel^2 multiplied out (EDM2's reference
// code: np.roots([1, 7, 16 - t, 12 - t]).real.max() with t = sigma_rel^-2). Throws ladle::Error when that root is
// not above -1 (sigma_rel too large for a power profile: sigma_rel_of_gamma(0) = 1/(2 sqrt 3) ~ 0.289 is the
// uniform average; larger values need gamma in (-1, 0)).
double gamma_of_sigma_rel(double sigma_rel);

// <p_i, p_j> = integral over tau of p_i(tau) p_j(tau) for the profiles of power EMAs with exponents gamma_i, gamma_j
// snapshotted at steps t_i, t_j (EDM2 appendix C.2, eq. 21):
//   (g_i + 1)(g_j + 1) min(t_i, t_j)^(g_i + g_j + 1) / ((g_i + g_j + 1) t_i^(g_i + 1) t_j^(g_j + 1)),
// the integral of (g_i+1)(g_j+1) tau^(g_i+g_j) / (t_i^(g_i+1) t_j^(g_j+1)) over [0, min(t_i, t_j)], where both
// profiles are non-zero. Computed through logarithms so that large exponents do not overflow.
double power_profile_inner_product(double t_i, double gamma_i, double t_j, double gamma_j);

}  // namespace ladle::callbacks
