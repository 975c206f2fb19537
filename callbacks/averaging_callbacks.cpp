#include "callbacks/averaging_callbacks.h"

#include <ATen/ATen.h>

#include <system_error>

#include "lib/log/log.h"
#include "lib/model/causal_lm.h"
#include "lib/util/error.h"
#include "trainer/optimizer.h"
#include "trainer/train_state.h"

namespace ladle::callbacks {
namespace {

// The average's state as the trainer's checkpoint stores it, and back. Tensors are cloned on load: the
// checkpoint's may be views of a memory-mapped file that a later checkpoint deletes.
AveragingState averaging_state_of(const trainer::CallbackState& state) {
  AveragingState result;
  for (const auto& [name, tensor] : state.tensors) result.tensors.insert(name, tensor.clone());
  if (!state.json.is_object() || !state.json.contains("average")) {
    throw Error("the checkpoint's averaging state has no 'average' entry (state.json is " + state.json.dump() + ")");
  }
  result.info = state.json.at("average");
  return result;
}

// Hard-links `source` to `target` (same file system: free), else copies it. Replaces an existing target.
void link_or_copy(const std::filesystem::path& source, const std::filesystem::path& target) {
  std::error_code error;
  std::filesystem::remove(target, error);
  std::filesystem::create_hard_link(source, target, error);
  if (!error) return;
  std::filesystem::copy_file(source, target, std::filesystem::copy_options::overwrite_existing, error);
  if (error) {
    throw Error("cannot copy " + source.string() + " to " + target.string() + ": " + error.message());
  }
}

}  // namespace

void AveragingCallback::ensure_average(trainer::TrainState& state) {
  if (average_) return;
  average_ = make_average(state);
  if (!pending_) return;
  const AveragingState saved = averaging_state_of(*pending_);
  prepare_load(saved, pending_->directory);
  average_->load_state(saved);
  if (pending_->json.contains("callback")) restore_extra_state(pending_->json.at("callback"));
  LADLE_LOG(info) << name() << ": restored " << average_->count() << " update(s) from the checkpoint";
  pending_.reset();
}

// An average that no step of the run would update is a config mistake (a start_step past the budget): refused
// before the first step rather than noticed when the run ends without an averaged model.
void AveragingCallback::require_an_update(const trainer::TrainState& state) const {
  if (average_->has_average() || state.max_steps <= 0) return;
  const StepSchedule& schedule = average_->schedule();
  const std::int64_t first = schedule.first_due_after(state.step);
  if (first <= state.max_steps) return;
  throw Error(name() + ": no step of this run updates the average: its first update would be at step " +
              std::to_string(first) + " (start_step " + std::to_string(schedule.start_step) + ", every " +
              std::to_string(schedule.every) + ") but the run ends at step " + std::to_string(state.max_steps) +
              "; lower averaging." + name() + ".start_step or raise the step budget");
}

void AveragingCallback::on_event(trainer::Event event, trainer::TrainState& state) {
  switch (event) {
    case trainer::Event::checkpoint_load:
      ensure_average(state);
      return;
    case trainer::Event::train_begin:
      ensure_average(state);
      require_an_update(state);
      return;
    case trainer::Event::after_optimizer_step:
      ensure_average(state);
      average_->on_optimizer_step(state.step);
      after_update(state);
      return;
    case trainer::Event::after_evaluation:
      if (callback_options_.evaluate && average_ && average_->has_average()) {
        state.evaluate_with(average_->averaged_weights(), name());
      }
      return;
    case trainer::Event::train_end:
      if (!average_) return;
      average_->wait();
      if (!callback_options_.save_model) return;
      if (!average_->has_average()) {
        LADLE_LOG(warning) << name() << ": no update happened during the run (it stopped before its step budget), "
                           << "so no averaged model is written";
        return;
      }
      state.save_model_with(average_->averaged_weights(), state.output_dir / name());
      if (state.is_main_process()) {
        LADLE_LOG(info) << name() << ": wrote the averaged model (" << average_->count() << " update(s)) to "
                        << (state.output_dir / name()).string();
      }
      return;
    default:
      return;
  }
}

void AveragingCallback::save_state(trainer::CallbackState& state) const {
  if (!average_) {
    // Never built: a checkpoint before the run began keeps whatever it was resumed with.
    if (pending_) state = *pending_;
    return;
  }
  const AveragingState saved = average_->state();
  state.tensors = saved.tensors;
  state.json = {{"average", saved.info}};
  const nlohmann::json extra = extra_state();
  if (!extra.is_null()) state.json["callback"] = extra;
  finish_save(saved, state.directory);
}

void AveragingCallback::load_state(const trainer::CallbackState& state) {
  if (state.tensors.empty() && state.json.is_null()) return;  // a checkpoint written without this callback
  pending_ = state;
}

// ---- EMA ----

std::unique_ptr<WeightAverage> EmaCallback::make_average(trainer::TrainState& state) {
  return std::make_unique<EmaAverage>(state.flat_parameters(), module_buffers(state.model()), options_);
}

// ---- SWA ----

SwaCallback::SwaCallback(SwaOptions options, std::optional<SwaLrOptions> lr, AveragingCallbackOptions callback_options)
    : AveragingCallback(callback_options), options_(std::move(options)) {
  if (lr) lr_.emplace(*lr);
}

std::unique_ptr<WeightAverage> SwaCallback::make_average(trainer::TrainState& state) {
  return std::make_unique<SwaAverage>(state.flat_parameters(), module_buffers(state.model()), options_);
}

void SwaCallback::after_update(trainer::TrainState& state) {
  if (!lr_) return;
  const std::int64_t phase_start = std::max<std::int64_t>(options_.schedule.start_step, 1);
  if (state.step < phase_start) return;
  if (!phase_start_lr_) phase_start_lr_ = state.optimizer().learning_rate();
  state.optimizer().set_learning_rate(lr_->lr(state.step - phase_start + 1, *phase_start_lr_));
}

nlohmann::json SwaCallback::extra_state() const {
  if (!phase_start_lr_) return nullptr;
  return {{"phase_start_lr", *phase_start_lr_}};
}

void SwaCallback::restore_extra_state(const nlohmann::json& extra) {
  if (extra.is_object() && extra.contains("phase_start_lr")) phase_start_lr_ = extra.at("phase_start_lr").get<double>();
}

// ---- LAWA ----

std::unique_ptr<WeightAverage> LawaCallback::make_average(trainer::TrainState& state) {
  LawaOptions options = options_;
  if (options.storage == SnapshotStorage::disk && options.directory.empty()) {
    // One ring per process: every process keeps the same snapshots, and they must not delete each other's files.
    options.directory = state.output_dir / "lawa-snapshots" / ("rank-" + std::to_string(state.rank()));
  }
  ring_directory_ = options.directory;
  return std::make_unique<LawaAverage>(state.flat_parameters(), module_buffers(state.model()), options);
}

void LawaCallback::prepare_load(const AveragingState& state, const std::filesystem::path& directory) {
  if (options_.storage != SnapshotStorage::disk || !state.info.contains("files")) return;
  for (const auto& file : state.info.at("files")) {
    const std::string name = file.at("file").get<std::string>();
    const std::filesystem::path saved = directory / name;
    if (!std::filesystem::exists(saved)) {
      throw Error("lawa: the checkpoint " + directory.string() + " lacks its snapshot file " + name);
    }
    link_or_copy(saved, ring_directory_ / name);
  }
}

void LawaCallback::finish_save(const AveragingState& state, const std::filesystem::path& directory) const {
  if (options_.storage != SnapshotStorage::disk || !state.info.contains("files") || directory.empty()) return;
  for (const auto& file : state.info.at("files")) {
    const std::string name = file.at("file").get<std::string>();
    link_or_copy(ring_directory_ / name, directory / name);
  }
}

}  // namespace ladle::callbacks
