// Trainer: the training loop of a causal LM (full fine-tuning, LoRA or pretraining), with callbacks
// (callback.h, events in event.h), evaluation, exact checkpoint/resume and data-parallel processes.
//
//   TrainConfig config = TrainConfig::from_yaml_file("train.yml", {"max_steps=100"});
//   Trainer trainer(config);                       // loads the model, tokenizer and data the config names
//   trainer.add_callback(std::make_shared<MyCallback>());
//   TrainResult result = trainer.train();          // or trainer.train("out/run") to resume
//
// One optimizer step: gradient_accumulation_steps micro-batches of batch_size examples on each process; the
// loss of the step is the mean over every target token of all of them (each micro-batch's summed token loss is
// divided by the step's total target count before backward), so accumulation and data parallelism give the
// gradient of the one large batch. Then the gradients (one flat buffer) are all-reduced, clipped to
// max_grad_norm, the optimizer steps and the schedule sets the next learning rate.
//
// Data order: one seeded DataLoader over global micro-batches of batch_size × world_size examples; process r
// takes examples [r·batch_size, (r+1)·batch_size) of each. So a run's examples, batches and steps do not depend
// on how many processes share them (up to floating-point rounding of the sums).
//
// Exact resume: every piece of state that the next steps read is checkpointed (weights, optimizer buffers,
// learning rate, step counters, data position, every process's CPU generator, every callback's state), so
// training N steps, resuming and training N more gives bit-identical weights to 2N straight steps (with the
// same thread count: parallel reductions may round differently with another).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "lib/model/causal_lm.h"
#include "trainer/callback.h"
#include "trainer/metrics.h"
#include "trainer/train_config.h"
#include "trainer/train_state.h"
#include "trainer/training_data.h"

namespace ladle::trainer {

struct TrainResult {
  std::int64_t steps = 0;                 // optimizer steps completed
  Metrics metrics;                        // the latest value of every metric (the final evaluation's included)
  std::filesystem::path final_model_dir;  // OUTPUT_DIR/final
  std::filesystem::path last_checkpoint;  // empty when none was written
};

class Trainer {
 public:
  // Validates the config, joins the process group when torchrun's variables ask for one, and loads the model,
  // tokenizer and data it names (training a tokenizer first if configured). Both constructors add the
  // built-in observers, then the callbacks the config's `averaging:` and `callbacks:` turn on, made by their
  // registered types (callback_registry.h; the averaging callbacks register themselves in every program that links
  // ladle::ladle), so `Trainer trainer(config)` runs what `ladle train` runs for the same config. An unknown type or
  // option fails before the model and data are loaded. Throws ladle::Error.
  explicit Trainer(TrainConfig config);
  // Trains a program's own model on its own data; the config's model, tokenizer and data keys are not used
  // (but batch sizes, optimizer, LoRA, evaluation, ... are). The model's trainable parameters must be fp32 (or
  // fp64) master weights on one device (use bf16 for bf16 compute); it is put in training mode.
  Trainer(TrainConfig config, std::shared_ptr<model::CausalLm> model, TrainingData data);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Registers a callback (before train()). Throws ladle::Error for an invalid or repeated name.
  void add_callback(std::shared_ptr<Callback> callback);

  // Runs the loop to the step budget. With resume_from (an output folder, its checkpoints/ folder or one
  // checkpoint) it first restores the latest complete checkpoint there. A fresh run refuses an output folder
  // that already holds another run's checkpoints or final model unless overwrite_output_dir. Call once.
  TrainResult train(const std::optional<std::filesystem::path>& resume_from = std::nullopt);

  const TrainConfig& config() const;
  TrainState& state();
  model::CausalLm& model();
  // Every callback in dispatch order (weight-modifying ones first, then observers; registration order within).
  std::vector<std::shared_ptr<Callback>> callbacks_in_order() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ladle::trainer
