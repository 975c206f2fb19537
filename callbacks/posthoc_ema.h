// Post-hoc EMA (Karras et al. 2024, EDM2, section 3.2 and appendix C.2): from snapshots of power-function EMAs
// (power_ema.h) taken during training, the weights of a power EMA of any other width sigma_rel at the end of the run,
// reconstructed as a linear combination of the snapshots.
//
// An EMA snapshotted at step t_i with exponent g_i is the integral of the training trajectory theta(tau) against its
// profile p_i(tau) = (g_i + 1) tau^g_i / t_i^(g_i + 1) on [0, t_i]. Any combination sum_i x_i snapshot_i is the
// trajectory against sum_i x_i p_i, so the best reconstruction of the target profile p_r (whatever the trajectory)
// minimises || sum_i x_i p_i - p_r ||^2 in L2: the normal equations A x = b with A_ij = <p_i, p_j>, b_i = <p_i, p_r>,
// whose entries have the closed form of power_profile_inner_product (EDM2 eq. 21; their reference code,
// solve_posthoc_coefficients, solves the same system with np.linalg.lstsq). The system is badly conditioned when
// snapshots are close, so it is solved by an SVD-based least squares (LAPACK gelsd, rcond = eps max(n, n), numpy's
// rcond=None), in float64. The weights may be negative and need not sum to exactly 1.
//
// Snapshots are Hugging Face folders OUTPUT_DIR/posthoc/step-<t>-sigma_rel-<s>/ written by PosthocEmaCallback, each
// with a record <folder>.json beside it ({"step": t, "gamma": g, "sigma_rel": s}) written atomically once the folder
// is complete: a folder without its record is an interrupted write and is ignored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ladle::callbacks {

struct PosthocSnapshot {
  std::filesystem::path folder;
  std::int64_t step = 0;  // t_i: the optimizer step it was taken after
  double gamma = 0;       // g_i: the power EMA's exponent
};

// The folder of the snapshot of the EMA of `sigma_rel` at `step` under `posthoc_dir`, and its record.
std::filesystem::path posthoc_snapshot_folder(const std::filesystem::path& posthoc_dir, std::int64_t step,
                                              double sigma_rel);
std::filesystem::path posthoc_record_path(const std::filesystem::path& snapshot_folder);

// The recorded snapshots under RUN_DIR/posthoc/, ordered by step then gamma. Throws ladle::Error when there is no
// such folder or no snapshot, or when a record is not {"step": integer >= 1, "gamma": number > -1}.
std::vector<PosthocSnapshot> find_posthoc_snapshots(const std::filesystem::path& run_dir);

// x with sum_i x_i snapshot_i the least-squares reconstruction of the power EMA with exponent `gamma` at step
// `step` (typically the last snapshot's). Throws ladle::Error for no snapshots or a non-positive step.
std::vector<double> posthoc_ema_coefficients(const std::vector<PosthocSnapshot>& snapshots, double gamma,
                                             std::int64_t step);

}  // namespace ladle::callbacks
