// Callback: a plug-in of the training loop. It reacts to events (event.h) through the TrainState
// (train_state.h) and owns whatever state it keeps, which it saves into and restores from checkpoints.
//
//   class StepCounter : public Callback {
//    public:
//     std::string name() const override { return "step_counter"; }
//     CallbackKind kind() const override { return CallbackKind::observes; }
//     void on_event(Event event, TrainState&) override { if (event == Event::after_optimizer_step) ++steps_; }
//     void save_state(CallbackState& state) const override { state.json = {{"steps", steps_}}; }
//     void load_state(const CallbackState& state) override { steps_ = state.json.at("steps"); }
//    private:
//     std::int64_t steps_ = 0;
//   };
//   trainer.add_callback(std::make_shared<StepCounter>());
//
// Order. For every event, the trainer runs the callbacks that modify weights first, in registration order,
// then the observers, in registration order (the built-in progress, metrics and checkpoint observers are
// registered by the Trainer before any user callback). Why: weight-modifying callbacks do not commute (an
// average taken before or after a merge differs), so the user's order decides; observers must see what the
// step finally produced (the metrics of averaged weights an averaging callback evaluated in after_evaluation,
// the weights a merging callback wrote), so they come after every modification of the same event.
// Checkpoints are written after a whole event dispatch, never between two callbacks (see Event::step_end).
//
// Processes. With data-parallel training every process runs every callback with the same events; a callback
// must make the same collective calls (TrainState::evaluate_with) on every process. save_state is called on the
// main process only (it writes the checkpoint); load_state on every process.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/weights/named_tensors.h"
#include "trainer/event.h"

namespace ladle::trainer {

class TrainState;

enum class CallbackKind {
  modifies_weights,  // changes the live weights or the optimizer (averaging that swaps weights, merging, SWA's LR)
  observes,          // only reads the state (progress, metrics, checkpoint policy, custom logging)
};

// "modifies_weights" or "observes".
const char* callback_kind_name(CallbackKind kind);

// A callback's part of a checkpoint: tensors stored bit for bit (safetensors, any dtype), JSON for everything
// else, and a folder of its own for any other files. Stored under checkpoint/callbacks/<name>/.
struct CallbackState {
  NamedTensors tensors;           // state.safetensors (CPU copies are made when writing)
  nlohmann::json json = nullptr;  // state.json (null: none)
  // The callback's own folder inside the checkpoint (exists during save_state and load_state). Files a
  // callback writes here are part of the checkpoint and are published with it atomically.
  std::filesystem::path directory;
};

class Callback {
 public:
  virtual ~Callback() = default;

  // A stable key, unique among a trainer's callbacks: names the callback's state in checkpoints (a resumed
  // run finds its state by it) and its lines in logs. Letters, digits, '_', '-' and '.' only.
  virtual std::string name() const = 0;
  virtual CallbackKind kind() const = 0;

  // Called for every event, in the order callback.h describes.
  virtual void on_event(Event event, TrainState& state) = 0;

  // Fills `state` for a checkpoint (main process only). Tensors are written after this returns, before the
  // next change to the weights, so views of live buffers need not be copied. The default saves nothing.
  virtual void save_state(CallbackState& state) const;
  // Restores what save_state saved (every process), before Event::checkpoint_load. The default accepts only an
  // empty state. Throw ladle::Error for a state this callback cannot continue from.
  virtual void load_state(const CallbackState& state);
};

}  // namespace ladle::trainer
