// WeightAverage: an average of a model's weights kept during training (EMA, SWA, LAWA), read from the live
// parameters after each optimizer step, and what the three share: when updates fire (StepSchedule), what happens to
// buffers (BufferMode), and the checkpoint state (AveragingState).
//
// The live parameters are a FlatParameters (one contiguous buffer per dtype and device), so an update is one
// vectorised pass over memory (lib/weights/tensor_ops.h). The average keeps one flat tensor per group of the
// FlatParameters, in the accumulation dtype (fp32; fp64 for fp64 groups) whatever the training dtype: a bf16
// average with decay 0.9999 would never move (1 + 1e-4 rounds back to 1 in bf16).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callbacks/flat_average.h"
#include "lib/weights/flat_parameters.h"
#include "lib/weights/named_tensors.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace ladle::callbacks {

// When a periodic action fires: at optimizer steps start_step, start_step + every, start_step + 2·every, ...
// Steps are the trainer's optimizer-step count after the step (1 after the first optimizer step), so step 0 never
// comes: with every = 1, start_step 0 and 1 both fire from the first step on, but with every > 1 they differ
// (start_step 0, every 5 fires at 5, 10, ...; start_step 1, every 5 at 1, 6, 11, ...).
struct StepSchedule {
  std::int64_t start_step = 0;  // the first step at which the action may fire
  std::int64_t every = 1;       // optimizer steps between two firings, ≥ 1

  bool due(std::int64_t step) const { return step >= start_step && (step - start_step) % every == 0; }
  // The first step after `step` at which the action fires.
  std::int64_t first_due_after(std::int64_t step) const;
  // Throws ladle::Error naming `owner` ("EMA") for a negative start or an interval < 1.
  void validate(const std::string& owner) const;
};

// What an average does with the module's buffers (BatchNorm running statistics and the like). Integer and bool
// buffers (num_batches_tracked) are always copied.
enum class BufferMode {
  average,  // averaged like the parameters (timm's ModelEmaV3 default; AveragedModel's use_buffers=True)
  copy,     // the live value at the latest update (timm's exclude_buffers=True)
};

// "average" or "copy".
std::string buffer_mode_name(BufferMode mode);

// An average's checkpoint state. Tensor names start with a role prefix ("average.", "snapshot.3.") followed by the
// parameter or buffer name ("buffer." + name for buffers), so the state is readable and independent of the flat
// layout; `info` holds counters and the options the average was built with.
struct AveragingState {
  NamedTensors tensors;
  nlohmann::json info = nlohmann::json::object();
};

// The module's buffers (recursively, under their dotted names) as aliases of the live buffers: an average reads the
// current values through them after every update, and an evaluation swap writes into them.
NamedTensors module_buffers(const torch::nn::Module& module);

class WeightAverage {
 public:
  // `live` must stay alive and bound (FlatParameters::parameters_bound) while the average is updated; reading the
  // average (averaged_weights, state) does not need it. `live_buffers` are aliases of the module's buffers
  // (module_buffers), empty when the module has none.
  WeightAverage(const FlatParameters& live, NamedTensors live_buffers);
  virtual ~WeightAverage() = default;
  WeightAverage(const WeightAverage&) = delete;
  WeightAverage& operator=(const WeightAverage&) = delete;

  // "ema", "swa" or "lawa": names the averaged model's folder (OUTPUT_DIR/ema/) and its metrics.
  virtual std::string name() const = 0;
  // Which optimizer steps update the average.
  virtual const StepSchedule& schedule() const = 0;

  // Call after every optimizer step with the step count; updates (or snapshots) when the schedule is due at
  // `step` and returns whether it did.
  virtual bool on_optimizer_step(std::int64_t step) = 0;
  // Folds the current live weights in now, whatever the schedule; `step` is recorded in the state.
  virtual void update(std::int64_t step) = 0;
  // Blocks until a background update has finished (EMA with CPU offload); a no-op otherwise. Every accessor
  // below waits first.
  virtual void wait() {}

  // Updates folded in (EMA, SWA) or snapshots held (LAWA). 0 means there is no average yet.
  virtual std::int64_t count() const = 0;
  bool has_average() const { return count() > 0; }

  // The averaged parameters: one flat tensor per group of the live FlatParameters (groups() order), in the
  // accumulation dtype, ready for FlatParameters::copy_from_flat. Views of the average, valid until the next
  // update. Throws ladle::Error when there is no average yet.
  virtual std::vector<at::Tensor> averaged_flat_values() = 0;
  // The buffers as the average holds them (BufferMode), under their module names; empty without buffers.
  virtual NamedTensors averaged_buffers() = 0;

  // Parameters (under the live FlatParameters' names) then buffers, each rounded to its live tensor's dtype: the
  // model to evaluate or save. Fresh tensors. Throws ladle::Error when there is no average yet.
  NamedTensors averaged_weights();

  // Serialises the average (tensors may alias it: write them out before the next update).
  virtual AveragingState state() = 0;
  // Restores a state written by state() of an average built over the same parameters and buffers, so that the
  // run continues bit-identically. Throws ladle::Error naming what does not match.
  virtual void load_state(const AveragingState& state) = 0;

  const FlatParameters& live() const { return live_; }
  // The layout of the live groups, recorded at construction.
  const FlatLayout& layout() const { return layout_; }
  const NamedTensors& live_buffers() const { return live_buffers_; }

 protected:
  // Throws ladle::Error("<name>: no average yet ...") when count() == 0.
  void require_average(const std::string& action) const;
  // Throws unless state.info["kind"] is name().
  void require_kind(const AveragingState& state) const;
  // state.info[key] as an integer; throws ladle::Error naming the key when it is missing or not an integer.
  std::int64_t info_integer(const AveragingState& state, const std::string& key) const;

  const FlatParameters& live_;
  FlatLayout layout_;
  NamedTensors live_buffers_;
};

}  // namespace ladle::callbacks
