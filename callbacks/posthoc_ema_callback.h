// PosthocEmaCallback (`averaging.posthoc`): keeps power-function EMAs (power_ema.h) of a few widths, EDM2's two by
// default, and every `every_steps` optimizer steps (and at the last step) writes a snapshot of each to
// OUTPUT_DIR/posthoc/ (posthoc_ema.h describes the folders and their records), from which `ladle posthoc-ema`
// reconstructs the EMA of any other width after training (Karras et al. 2024, EDM2, section 3.2).
//
// By event (besides EmaCallback's): train_begin refuses a run whose planned snapshots (every snapshot of the whole
// run, at the live weights' size in fp32) exceed the disk budget, before any step; after_optimizer_step writes the
// due snapshots (every process takes part, the main process writes); train_end writes the last step's snapshot
// when the schedule did not. Checkpoints hold the EMAs (EmaCallback), and the snapshots already written stay in
// posthoc/, so a resumed run continues them; snapshots after the resumed step are written again, the same.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "callbacks/averaging_callbacks.h"

namespace ladle::callbacks {

struct PosthocOptions {
  std::vector<double> sigma_rels = {0.05, 0.10};  // EDM2's tracked widths (their section 3.2)
  std::int64_t every_steps = 1000;                // optimizer steps between snapshots
  std::uint64_t budget_bytes = 20'000'000'000;    // disk the snapshots may take (20 GB)
};

// name "posthoc"; its EMAs are named by their widths (outputs "ema-0.05", ...), neither evaluated nor written at
// train end: the snapshots are the product.
class PosthocEmaCallback final : public EmaCallback {
 public:
  // Throws ladle::Error for no width, a width without a power profile, or every_steps < 1.
  explicit PosthocEmaCallback(PosthocOptions options = {});
  std::string name() const override { return "posthoc"; }
  void on_event(trainer::Event event, trainer::TrainState& state) override;

 protected:
  void after_update(trainer::TrainState& state) override;

 private:
  // Throws ladle::Error when the whole run's snapshots would exceed the budget.
  void require_budget(const trainer::TrainState& state) const;
  void write_snapshots(trainer::TrainState& state);

  PosthocOptions options_;
  std::int64_t last_snapshot_step_ = 0;
};

}  // namespace ladle::callbacks
