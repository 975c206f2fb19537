#include "callbacks/averaging_callbacks.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <system_error>

#include "lib/log/log.h"
#include "lib/model/causal_lm.h"
#include "lib/util/error.h"
#include "trainer/optimizer.h"
#include "trainer/train_state.h"

namespace ladle::callbacks {
namespace {

// The state of one average as the trainer's checkpoint stores it, and back: the tensors whose names start with
// `prefix` (without it) and `info`. Tensors are cloned on load: the checkpoint's may be views of a memory-mapped file
// that a later checkpoint deletes.
AveragingState averaging_state_of(const trainer::CallbackState& state, const std::string& prefix,
                                  const nlohmann::json& info) {
  AveragingState result;
  for (const auto& [name, tensor] : state.tensors) {
    if (name.compare(0, prefix.size(), prefix) == 0) result.tensors.insert(name.substr(prefix.size()), tensor.clone());
  }
  result.info = info;
  return result;
}

// The checkpoint's JSON entry `key` ("average", or "averages" with several), which must be an object.
const nlohmann::json& state_entry(const trainer::CallbackState& state, const char* key) {
  if (!state.json.is_object() || !state.json.contains(key) || !state.json.at(key).is_object()) {
    throw Error(std::string("the checkpoint's averaging state has no '") + key + "' entry (state.json is " +
                state.json.dump() + ")");
  }
  return state.json.at(key);
}

// "<output>/": the prefix of an average's tensors in the state of a callback with several averages.
std::string tensor_prefix(const std::string& output) { return output + "/"; }

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

AveragingCallback::AveragingCallback(std::vector<AverageOutput> outputs) : outputs_(std::move(outputs)) {
  if (outputs_.empty()) throw Error("an averaging callback needs at least one average");
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (outputs_[i].output == outputs_[j].output) {
        throw Error("two averages are both written as '" + outputs_[i].output + "': their names must differ");
      }
    }
    filters_.emplace_back(outputs_[i].options.include, outputs_[i].options.exclude);
  }
}

bool AveragingCallback::writes_model(const std::string& output) const {
  return std::any_of(outputs_.begin(), outputs_.end(), [&](const AverageOutput& candidate) {
    return candidate.output == output && candidate.options.save_model;
  });
}

void AveragingCallback::ensure_averages(trainer::TrainState& state) {
  if (!averages_.empty()) return;
  for (std::size_t i = 0; i < outputs_.size(); ++i) averages_.push_back(make_average(i, state));
  if (!pending_) return;
  load_averages(*pending_);
  if (pending_->json.contains("callback")) restore_extra_state(pending_->json.at("callback"));
  pending_.reset();
}

void AveragingCallback::load_averages(const trainer::CallbackState& saved) {
  const bool several = averages_.size() > 1;
  const nlohmann::json& infos = state_entry(saved, several ? "averages" : "average");
  for (std::size_t i = 0; i < averages_.size(); ++i) {
    const std::string& output = outputs_[i].output;
    if (several && !infos.contains(output)) {
      throw Error(name() + ": the checkpoint holds no state for the average '" + output + "' (it holds " +
                  infos.dump() + "); resume with the averages the run was started with");
    }
    const AveragingState state =
        averaging_state_of(saved, several ? tensor_prefix(output) : "", several ? infos.at(output) : infos);
    prepare_load(state, saved.directory);
    averages_[i]->load_state(state);
    LADLE_LOG(info) << output << ": restored " << averages_[i]->count() << " update(s) from the checkpoint";
  }
}

// An average that no step of the run would update is a config mistake (a start_step past the budget): refused
// before the first step rather than noticed when the run ends without an averaged model. So is a filter that
// leaves every parameter out.
void AveragingCallback::require_an_update(const trainer::TrainState& state) const {
  for (std::size_t i = 0; i < averages_.size(); ++i) {
    const WeightAverage& average = *averages_[i];
    const std::string& output = outputs_[i].output;
    const auto names = average.live().names();
    if (std::none_of(names.begin(), names.end(), [&](const std::string& n) { return filters_[i].selects(n); })) {
      throw Error(output + ": the include/exclude patterns leave every parameter out of the average");
    }
    if (average.has_average() || state.max_steps <= 0) continue;
    const StepSchedule& schedule = average.schedule();
    const std::int64_t first = schedule.first_due_after(state.step);
    if (first <= state.max_steps) continue;
    throw Error(output + ": no step of this run updates the average: its first update would be at step " +
                std::to_string(first) + " (start_step " + std::to_string(schedule.start_step) + ", every " +
                std::to_string(schedule.every) + ") but the run ends at step " + std::to_string(state.max_steps) +
                "; lower averaging." + name() + ".start_step or raise the step budget");
  }
}

NamedTensors AveragingCallback::output_weights(std::size_t index) const {
  WeightAverage& average = *averages_[index];
  if (filters_[index].selects_all()) return average.averaged_weights();
  NamedTensors live = named_flat_views(average.layout(), live_flat_values(average.live()), "");
  for (const auto& [name, buffer] : average.live_buffers()) live.insert(name, buffer);
  return filters_[index].applied(average.averaged_weights(), live);
}

void AveragingCallback::update_averages(std::int64_t step) {
  for (const auto& average : averages_) average->on_optimizer_step(step);
}

void AveragingCallback::on_event(trainer::Event event, trainer::TrainState& state) {
  switch (event) {
    case trainer::Event::checkpoint_load:
      ensure_averages(state);
      return;
    case trainer::Event::train_begin:
      ensure_averages(state);
      require_an_update(state);
      return;
    case trainer::Event::after_optimizer_step:
      ensure_averages(state);
      update_averages(state.step);
      after_update(state);
      return;
    case trainer::Event::after_evaluation:
      for (std::size_t i = 0; i < averages_.size(); ++i) {
        if (outputs_[i].options.evaluate && averages_[i]->has_average()) {
          state.evaluate_with(output_weights(i), outputs_[i].output);
        }
      }
      return;
    case trainer::Event::train_end:
      for (const auto& average : averages_) average->wait();
      for (std::size_t i = 0; i < averages_.size(); ++i) save_output(i, state);
      return;
    default:
      return;
  }
}

void AveragingCallback::save_output(std::size_t index, trainer::TrainState& state) const {
  const std::string& output = outputs_[index].output;
  const WeightAverage& average = *averages_[index];
  if (!outputs_[index].options.save_model) return;
  if (!average.has_average()) {
    LADLE_LOG(warning) << output << ": no update happened during the run (it stopped before its step budget), "
                       << "so no averaged model is written";
    return;
  }
  state.save_model_with(output_weights(index), state.output_dir / output);
  if (state.is_main_process()) {
    LADLE_LOG(info) << output << ": wrote the averaged model (" << average.count() << " update(s)) to "
                    << (state.output_dir / output).string();
  }
}

void AveragingCallback::save_state(trainer::CallbackState& state) const {
  if (averages_.empty()) {
    // Never built: a checkpoint before the run began keeps whatever it was resumed with.
    if (pending_) state = *pending_;
    return;
  }
  const bool several = averages_.size() > 1;
  state.json = nlohmann::json::object();
  for (std::size_t i = 0; i < averages_.size(); ++i) {
    const AveragingState saved = averages_[i]->state();
    const std::string prefix = several ? tensor_prefix(outputs_[i].output) : "";
    for (const auto& [name, tensor] : saved.tensors) state.tensors.insert(prefix + name, tensor);
    if (several) {
      state.json["averages"][outputs_[i].output] = saved.info;
    } else {
      state.json["average"] = saved.info;
    }
    finish_save(saved, state.directory);
  }
  const nlohmann::json extra = extra_state();
  if (!extra.is_null()) state.json["callback"] = extra;
}

void AveragingCallback::load_state(const trainer::CallbackState& state) {
  if (state.tensors.empty() && state.json.is_null()) return;  // a checkpoint written without this callback
  pending_ = state;
}

// ---- EMA ----

namespace {

std::vector<AverageOutput> ema_outputs(const std::vector<NamedEma>& emas) {
  std::vector<AverageOutput> outputs;
  for (const auto& ema : emas) outputs.push_back({ema.name.empty() ? "ema" : "ema-" + ema.name, ema.callback});
  return outputs;
}

}  // namespace

EmaCallback::EmaCallback(std::vector<NamedEma> emas) : AveragingCallback(ema_outputs(emas)), emas_(std::move(emas)) {}

std::unique_ptr<WeightAverage> EmaCallback::make_average(std::size_t index, trainer::TrainState& state) {
  return std::make_unique<EmaAverage>(state.flat_parameters(), module_buffers(state.model()), emas_.at(index).options);
}

void EmaCallback::update_averages(std::int64_t step) {
  std::vector<EmaAverage*> emas;
  for (std::size_t i = 0; i < outputs().size(); ++i) emas.push_back(static_cast<EmaAverage*>(average(i)));
  EmaAverage::update_together(emas, step);
}

// ---- SWA ----

SwaCallback::SwaCallback(SwaOptions options, std::optional<SwaLrOptions> lr, AveragingCallbackOptions callback_options)
    : AveragingCallback({{"swa", std::move(callback_options)}}), options_(std::move(options)) {
  if (lr) lr_.emplace(*lr);
}

std::unique_ptr<WeightAverage> SwaCallback::make_average(std::size_t /*index*/, trainer::TrainState& state) {
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

std::unique_ptr<WeightAverage> LawaCallback::make_average(std::size_t /*index*/, trainer::TrainState& state) {
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
