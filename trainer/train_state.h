// TrainState: what callbacks see of a training run, and what they may ask of it. The Trainer owns it and
// updates the counters and per-step fields before each event (event.h says which are set when).
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "lib/text/batch.h"
#include "lib/weights/named_tensors.h"
#include "trainer/metrics.h"

namespace ladle {
class FlatParameters;
}  // namespace ladle

namespace ladle::text {
class Tokenizer;
}  // namespace ladle::text

namespace ladle::model {
class CausalLm;
}  // namespace ladle::model

namespace ladle::trainer {

class Optimizer;
class ProcessGroup;
struct TrainConfig;

// What the Trainer does for TrainState's requests (implemented inside the Trainer).
class TrainerServices {
 public:
  virtual ~TrainerServices() = default;
  // Evaluates the model's current weights on the held-out set; metric names start with `label`.
  virtual Metrics evaluate(const std::string& label) = 0;
  // Writes the model's current weights as a model folder (model_folder.h) on the main process.
  virtual void save_model(const std::filesystem::path& directory) = 0;
};

class TrainState {
 public:
  TrainState(TrainerServices& services, model::CausalLm& model, Optimizer& optimizer, FlatParameters& parameters,
             const TrainConfig& config, const text::Tokenizer& tokenizer, ProcessGroup& group);

  // ---- What is trained ----
  model::CausalLm& model() const { return *model_; }
  // The optimizer: its learning_rate() is the rate of the next step; set_learning_rate from after_optimizer_step
  // replaces the schedule's value for the next step (it is checkpointed).
  Optimizer& optimizer() const { return *optimizer_; }
  // The trainable parameters as one flat fp32 buffer (and their gradients as one flat buffer): every trainable
  // parameter is a view into groups()[0].values. Averaging callbacks update from it in one pass.
  FlatParameters& flat_parameters() const { return *parameters_; }
  const TrainConfig& config() const { return *config_; }
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  // The processes of a data-parallel run (a single-process stand-in otherwise).
  ProcessGroup& process_group() const { return *group_; }
  int rank() const;
  int world_size() const;
  // Only the main process (rank 0) writes checkpoints, logs, metrics and model folders.
  bool is_main_process() const { return rank() == 0; }

  // ---- Counters ----
  std::int64_t step = 0;             // optimizer steps completed
  std::int64_t max_steps = 0;        // optimizer steps of the whole run
  std::int64_t epoch = 0;            // 0-based index of the current epoch
  std::int64_t steps_per_epoch = 0;  // optimizer steps of a full epoch
  std::int64_t micro_step = 0;       // micro-batches this process ran so far
  std::int64_t tokens = 0;           // target tokens trained on so far, over every process
  bool resumed = false;              // the run continued from a checkpoint (set before checkpoint_load)

  // ---- The current optimizer step ----
  std::vector<text::Batch> micro_batches;                       // this process's micro-batches (from step_begin)
  double loss = std::numeric_limits<double>::quiet_NaN();       // mean target-token loss (from after_backward)
  double grad_norm = std::numeric_limits<double>::quiet_NaN();  // global L2 norm before clipping (from
                                                                // after_optimizer_step)
  // The latest value of every metric: "train/loss", "train/learning_rate" (the rate this step used),
  // "train/grad_norm", "train/tokens_per_second" (non-padding input tokens over the time spent in steps, every
  // process; set before after_optimizer_step), the evaluation's (evaluator.h) and any a callback adds.
  Metrics metrics;
  // Names of the metrics of the latest evaluation (including those evaluate_with added).
  std::vector<std::string> evaluation_metric_names;

  // ---- Files ----
  std::filesystem::path output_dir;
  std::filesystem::path last_checkpoint;  // the newest checkpoint written or resumed from
  std::filesystem::path final_model_dir;  // OUTPUT_DIR/final (set before train_end)

  // ---- Requests ----
  // True when this step's metrics are logged (every log_every_steps and the last step).
  bool is_log_step() const;
  // Evaluates the current weights; metrics "<label>/..." are merged into `metrics` and returned. Collective:
  // every process must call it at the same point.
  Metrics evaluate(const std::string& label);
  // Swaps `weights` in (a subset of the model's parameters, by parameter name: Hugging Face names for a full
  // model, e.g. an average from FlatParameters names), evaluates them as evaluate(label) does, and swaps the
  // live weights back bit for bit. Throws ladle::Error for an unknown name or shape before changing anything.
  Metrics evaluate_with(const NamedTensors& weights, const std::string& label);
  // Writes a model folder (model_folder.h; tokenizer included) holding `weights` swapped in for the
  // parameters they name, e.g. OUTPUT_DIR/ema/; the live weights are restored. Written by the main process;
  // every process must call it.
  void save_model_with(const NamedTensors& weights, const std::filesystem::path& directory);
  // Ask for a checkpoint at the end of the current step (after every callback's step_end).
  void request_checkpoint() { checkpoint_requested_ = true; }
  bool checkpoint_requested() const { return checkpoint_requested_; }
  // Stop after the current step (as if the step budget ended): epoch_end, final evaluation, final model and
  // train_end still follow. Every process must request it at the same step.
  void request_stop() { stop_requested_ = true; }
  bool stop_requested() const { return stop_requested_; }

 private:
  friend class Trainer;
  // Copies `weights` into the parameters they name and returns the values they replaced.
  NamedTensors swap_in(const NamedTensors& weights);
  void restore(const NamedTensors& saved);

  TrainerServices* services_;
  model::CausalLm* model_;
  Optimizer* optimizer_;
  FlatParameters* parameters_;
  const TrainConfig* config_;
  const text::Tokenizer* tokenizer_;
  ProcessGroup* group_;
  bool checkpoint_requested_ = false;
  bool stop_requested_ = false;
};

}  // namespace ladle::trainer
