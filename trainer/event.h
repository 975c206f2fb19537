// The events of a training run: the points in the loop where callbacks (callback.h) run.
//
// One optimizer step with gradient accumulation A runs A micro-batches (forward + backward each) and then one
// optimizer update; every per-step event below fires once per optimizer step, never per micro-batch. A run is:
//
//   [checkpoint_load]                       only when resuming
//   train_begin
//   for each epoch:
//     epoch_begin
//     for each optimizer step of the epoch:
//       step_begin
//       (forward + backward) x A, gradients all-reduced across processes
//       after_backward
//       gradient clipping, optimizer.step(), step += 1, learning rate of the next step set
//       after_optimizer_step
//       [before_evaluation, after_evaluation]   when evaluation.every_steps divides the step
//       step_end
//       [checkpoint_save]                       when a callback requested a checkpoint during this step
//     epoch_end
//   [before_evaluation, after_evaluation]   final evaluation, unless the last step already evaluated
//   train_end
//
// A run that stops on a step budget in the middle of an epoch fires that epoch's epoch_end before the final
// evaluation. A resumed run continues the event sequence of the uninterrupted run exactly: it does not repeat
// epoch_begin for an epoch that was under way when the checkpoint was written, and when the checkpointed step
// was the last of its epoch it fires that epoch's epoch_end first (the uninterrupted run fired it right after
// the checkpoint).
#pragma once

#include <array>
#include <string>

namespace ladle::trainer {

enum class Event {
  // Once per run, after the model, optimizer, data and callbacks are set up and, when resuming, after
  // checkpoint_load; before the first epoch_begin. TrainState::resumed says whether state was restored.
  train_begin,
  // At the start of each epoch, before its first step_begin (TrainState::epoch is the new epoch's index). Not
  // fired again for an epoch a resumed run continues.
  epoch_begin,
  // Once per optimizer step, before the first micro-batch's forward: TrainState::micro_batches holds this
  // process's micro-batches of the step and TrainState::step still counts the steps completed before it.
  step_begin,
  // Once per optimizer step, after the last micro-batch's backward and, with several processes, after the
  // gradients are all-reduced; before gradient clipping and the optimizer step. The gradients are final:
  // TrainState::flat_parameters().groups()[0].gradients (each parameter's .grad views it). TrainState::loss is
  // the step's mean loss over every process's target tokens.
  after_backward,
  // Once per optimizer step, after optimizer.step() and after the learning rate of the next step was set from
  // the schedule. TrainState::step already counts this step. Weight-averaging callbacks update here; a
  // callback may also set the optimizer's learning rate here (it is used by the next step and checkpointed).
  after_optimizer_step,
  // Once per optimizer step, after after_optimizer_step and the step's evaluation (if any). Checkpoints
  // requested during the step (TrainState::request_checkpoint) are written after every callback has seen
  // step_end, so a checkpoint holds every callback's state as of the end of the step.
  step_end,
  // After the last step_end of an epoch (or of the run, when a step budget ends it mid-epoch).
  epoch_end,
  // Right before an evaluation of the live weights (every evaluation.every_steps steps and at the end).
  before_evaluation,
  // Right after that evaluation: TrainState::metrics holds its results ("eval/loss", ...). Callbacks may
  // evaluate other weights here with TrainState::evaluate_with; observers, which run after every
  // weight-modifying callback, then see those metrics too.
  after_evaluation,
  // After a checkpoint folder is complete (every callback's save_state ran and the folder was renamed into
  // place); TrainState::last_checkpoint is its path. Fired on every process (only the main one writes).
  checkpoint_save,
  // When resuming, after the model, optimizer, schedule, data position, random generators and every
  // callback's load_state were restored from TrainState::last_checkpoint; before train_begin.
  checkpoint_load,
  // Once at the end of the run, after the final evaluation and after the final model was written to
  // OUTPUT_DIR/final/ (TrainState::final_model_dir).
  train_end,
};

inline constexpr std::array<Event, 12> kAllEvents = {
    Event::train_begin,          Event::epoch_begin,     Event::step_begin,      Event::after_backward,
    Event::after_optimizer_step, Event::step_end,        Event::epoch_end,       Event::before_evaluation,
    Event::after_evaluation,     Event::checkpoint_save, Event::checkpoint_load, Event::train_end};

// "train_begin", "after_optimizer_step", ...: the enumerator's name.
const char* event_name(Event event);

}  // namespace ladle::trainer
