// The averaging callbacks of the trainer: EmaCallback, SwaCallback and LawaCallback keep an average of the live
// weights (ema_average.h, swa_average.h, lawa_average.h) during training; an EmaCallback may keep several EMAs,
// each under its own output name (ema-slow/, ema-fast/), updated in one pass over the live weights.
//
// What each does, by event (trainer/event.h):
//   checkpoint_load, train_begin  builds the average over TrainState::flat_parameters (and restores the state a
//                                 resumed run's checkpoint held)
//   after_optimizer_step          updates the average when its schedule is due at TrainState::step; SWA may also
//                                 set the learning rate of the next step (SWALR's anneal)
//   after_evaluation              evaluates the averaged weights swapped in (TrainState::evaluate_with; the live
//                                 weights come back bit for bit): metrics "<output>/loss", ... beside "eval/loss"
//   train_end                     writes the averaged model as a Hugging Face folder OUTPUT_DIR/<output>/ (ema/,
//                                 ema-slow/, swa/, lawa/): the model to load for inference
// A parameter filter (AveragingCallbackOptions include/exclude) puts the live value of each tensor it leaves out
// into what is evaluated and written. Checkpoints hold the average (CallbackState tensors "average.<parameter>" or
// "snapshot.<i>.<parameter>", and the counters as JSON; with several averages each name is prefixed by
// "<output>/" and the JSON lists them under "averages"), so a resumed run continues bit-identically.
//
// Kind: modifies_weights (they swap weights for evaluation, and SWA sets the learning rate), so they run before
// the observers and see the weights after every earlier weight-modifying callback of the same event.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "callbacks/ema_average.h"
#include "callbacks/lawa_average.h"
#include "callbacks/parameter_filter.h"
#include "callbacks/swa_average.h"
#include "callbacks/swa_lr_schedule.h"
#include "callbacks/weight_average.h"
#include "trainer/callback.h"

namespace ladle::callbacks {

// What an averaging callback does with its average besides keeping it.
struct AveragingCallbackOptions {
  bool evaluate = true;    // evaluate the averaged weights after every evaluation of the live ones
  bool save_model = true;  // write OUTPUT_DIR/<output>/ at train end (when the average has at least one update)
  // Regular expressions on parameter and buffer names (ParameterFilter): which tensors the evaluated and written
  // average takes from the average (the others keep their live value). Empty include: every tensor.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
};

// One average of a callback: its output name (the folder OUTPUT_DIR/<output>/ and the metrics' prefix) and what the
// callback does with it.
struct AverageOutput {
  std::string output;
  AveragingCallbackOptions options;
};

class AveragingCallback : public trainer::Callback {
 public:
  trainer::CallbackKind kind() const override { return trainer::CallbackKind::modifies_weights; }
  void on_event(trainer::Event event, trainer::TrainState& state) override;
  void save_state(trainer::CallbackState& state) const override;
  void load_state(const trainer::CallbackState& state) override;

  // The first (or only) average, once the run has begun (null before).
  WeightAverage* average() const { return average(0); }
  // The average of outputs()[index], once the run has begun (null before).
  WeightAverage* average(std::size_t index) const { return averages_.empty() ? nullptr : averages_.at(index).get(); }
  const std::vector<AverageOutput>& outputs() const { return outputs_; }
  // Whether the callback writes OUTPUT_DIR/<output>/ at train end.
  bool writes_model(const std::string& output) const;

 protected:
  // `outputs`: one per average, in the order make_average builds them; output names must differ.
  explicit AveragingCallback(std::vector<AverageOutput> outputs);

  // Builds the average of outputs()[index] over the run's live weights.
  virtual std::unique_ptr<WeightAverage> make_average(std::size_t index, trainer::TrainState& state) = 0;
  // Feeds the optimizer step to every average (EMA: in one pass).
  virtual void update_averages(std::int64_t step);
  // After the averages saw an optimizer step (SWA's learning rate).
  virtual void after_update(trainer::TrainState& /*state*/) {}
  // Extra JSON a subclass keeps in the checkpoint ("callback" key of the state) and gets back on resume.
  virtual nlohmann::json extra_state() const { return nullptr; }
  virtual void restore_extra_state(const nlohmann::json& /*extra*/) {}
  // Called with the checkpoint's state and its folder before the average's load_state (LAWA restores files).
  virtual void prepare_load(const AveragingState& /*state*/, const std::filesystem::path& /*directory*/) {}
  // Called after save_state filled `state` (LAWA links its snapshot files into the checkpoint folder).
  virtual void finish_save(const AveragingState& /*state*/, const std::filesystem::path& /*directory*/) const {}
  // The weights of average `index` to evaluate or write (the filter applied).
  NamedTensors output_weights(std::size_t index) const;

 private:
  void ensure_averages(trainer::TrainState& state);
  // Restores the averages from a checkpoint's state.
  void load_averages(const trainer::CallbackState& saved);
  // Throws ladle::Error when no step left in the run is due by an average's schedule and it has no average yet,
  // or when a parameter filter selects no parameter.
  void require_an_update(const trainer::TrainState& state) const;
  // Writes OUTPUT_DIR/<output>/ for average `index` at train end, when it is to be written and has an average.
  void save_output(std::size_t index, trainer::TrainState& state) const;

  std::vector<AverageOutput> outputs_;
  std::vector<ParameterFilter> filters_;  // one per output
  std::vector<std::unique_ptr<WeightAverage>> averages_;
  std::optional<trainer::CallbackState> pending_;  // a checkpoint's state, applied once the averages exist
};

// An EMA of an EmaCallback: its name (empty for the single unnamed EMA, written as OUTPUT_DIR/ema/; otherwise
// OUTPUT_DIR/ema-<name>/), its options and what the callback does with it.
struct NamedEma {
  std::string name;
  EmaOptions options;
  AveragingCallbackOptions callback;
};

// name "ema". Keeps one EMA per NamedEma, all updated in one pass over the live weights.
class EmaCallback : public AveragingCallback {
 public:
  explicit EmaCallback(EmaOptions options = {}, AveragingCallbackOptions callback_options = {})
      : EmaCallback(std::vector<NamedEma>{{"", std::move(options), std::move(callback_options)}}) {}
  // Throws ladle::Error for no EMA, or two with the same name.
  explicit EmaCallback(std::vector<NamedEma> emas);
  std::string name() const override { return "ema"; }
  const std::vector<NamedEma>& emas() const { return emas_; }

 protected:
  std::unique_ptr<WeightAverage> make_average(std::size_t index, trainer::TrainState& state) override;
  void update_averages(std::int64_t step) override;

 private:
  std::vector<NamedEma> emas_;
};

// name "swa". With lr options, from the first scheduled SWA step s₀ on, the learning rate of the step after step
// s is SwaLrSchedule::lr(s − s₀ + 1, lr₀), lr₀ being the rate the trainer's schedule gave for the step after s₀:
// SWALR's anneal to swa_lr, then swa_lr (the trainer's schedule is overridden from then on). BatchNorm statistics
// are not recomputed at the end: causal LMs have none (update_bn.h does it for models that do).
class SwaCallback final : public AveragingCallback {
 public:
  explicit SwaCallback(SwaOptions options = {}, std::optional<SwaLrOptions> lr = std::nullopt,
                       AveragingCallbackOptions callback_options = {});
  std::string name() const override { return "swa"; }

 protected:
  std::unique_ptr<WeightAverage> make_average(std::size_t index, trainer::TrainState& state) override;
  void after_update(trainer::TrainState& state) override;
  nlohmann::json extra_state() const override;
  void restore_extra_state(const nlohmann::json& extra) override;

 private:
  SwaOptions options_;
  std::optional<SwaLrSchedule> lr_;
  std::optional<double> phase_start_lr_;  // lr₀, once the SWA phase has begun
};

// name "lawa". In memory, every checkpoint holds the k snapshots (k copies of the trainable weights). Snapshots on
// disk go to LawaOptions::directory, or OUTPUT_DIR/lawa-snapshots/rank-<r>/ when it is empty; a checkpoint links
// (or copies) the ring's files into its own folder, so a run resumes from any kept checkpoint. Evaluate LAWA at each
// snapshot by setting the trainer's evaluation.every_steps to the interval.
class LawaCallback final : public AveragingCallback {
 public:
  explicit LawaCallback(LawaOptions options = {}, AveragingCallbackOptions callback_options = {})
      : AveragingCallback({{"lawa", std::move(callback_options)}}), options_(std::move(options)) {}
  std::string name() const override { return "lawa"; }

 protected:
  std::unique_ptr<WeightAverage> make_average(std::size_t index, trainer::TrainState& state) override;
  void prepare_load(const AveragingState& state, const std::filesystem::path& directory) override;
  void finish_save(const AveragingState& state, const std::filesystem::path& directory) const override;

 private:
  LawaOptions options_;
  std::filesystem::path ring_directory_;  // where the disk ring keeps its files (set by make_average)
};

}  // namespace ladle::callbacks
