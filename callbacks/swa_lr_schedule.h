// SwaLrSchedule: the learning rate of the SWA phase, as torch.optim.swa_utils.SWALR sets it: from the learning rate
// the phase starts with, anneal to swa_lr over anneal_steps steps (cosine or linear), then hold swa_lr.
// Torch-free.
#pragma once

#include <cstdint>
#include <string>

namespace ladle::callbacks {

enum class SwaAnneal {
  cosine,  // α(t) = (1 − cos(π·t))/2, SWALR's "cos" (its default)
  linear,  // α(t) = t, SWALR's "linear"
};

struct SwaLrOptions {
  double swa_lr = 0.05;             // the learning rate annealed to and then held (SWALR's swa_lr); > 0
  std::int64_t anneal_steps = 10;   // steps of the anneal (SWALR's anneal_epochs, in whatever unit steps it); ≥ 0
  SwaAnneal anneal = SwaAnneal::cosine;
};

class SwaLrSchedule {
 public:
  // Throws ladle::Error for swa_lr ≤ 0 (or not finite) or a negative anneal_steps.
  explicit SwaLrSchedule(SwaLrOptions options);

  // The learning rate after k schedule steps into the SWA phase, which began with learning rate start_lr:
  //   lr_k = α(t_k)·swa_lr + (1 − α(t_k))·start_lr,  t_k = clamp(k / max(1, anneal_steps), 0, 1),
  // the closed form of SWALR.get_lr's recursion (it recovers start_lr from the previous lr each step). k = 0 is
  // the learning rate SWALR sets when it is constructed; with anneal_steps = 0 every k gives swa_lr, as SWALR
  // treats step 0 as step 1 then.
  double lr(std::int64_t k, double start_lr) const;

  const SwaLrOptions& options() const { return options_; }

 private:
  SwaLrOptions options_;
};

}  // namespace ladle::callbacks
