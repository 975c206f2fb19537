#include "callbacks/posthoc_ema_callback.h"

#include <torch/nn/module.h>

#include <nlohmann/json.hpp>

#include "callbacks/posthoc_ema.h"
#include "callbacks/power_ema.h"
#include "lib/config/value_range.h"
#include "lib/io/atomic_file.h"
#include "lib/log/log.h"
#include "lib/model/causal_lm.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"
#include "trainer/train_state.h"

namespace ladle::callbacks {
namespace {

// One power EMA per width, updated at every step (EDM2 updates its EMAs every training step).
std::vector<NamedEma> posthoc_emas(const PosthocOptions& options) {
  if (options.sigma_rels.empty()) throw Error("posthoc: sigma_rels is empty, expected at least one width");
  if (options.every_steps < 1) {
    throw Error("posthoc: every_steps is " + std::to_string(options.every_steps) + ", expected >= 1");
  }
  std::vector<NamedEma> emas;
  for (const double sigma_rel : options.sigma_rels) {
    NamedEma ema;
    ema.name = config::number_text(sigma_rel);
    ema.options.power_gamma = gamma_of_sigma_rel(sigma_rel);
    ema.callback.evaluate = false;
    ema.callback.save_model = false;
    emas.push_back(std::move(ema));
  }
  return emas;
}

// Bytes of one snapshot: the model's parameters and floating-point buffers as the trainer writes them (fp32).
std::uint64_t snapshot_bytes(const torch::nn::Module& model) {
  std::uint64_t elements = 0;
  for (const auto& parameter : model.parameters()) elements += static_cast<std::uint64_t>(parameter.numel());
  for (const auto& buffer : model.buffers()) elements += static_cast<std::uint64_t>(buffer.numel());
  return elements * sizeof(float);
}

}  // namespace

PosthocEmaCallback::PosthocEmaCallback(PosthocOptions options)
    : EmaCallback(posthoc_emas(options)), options_(std::move(options)) {}

void PosthocEmaCallback::require_budget(const trainer::TrainState& state) const {
  if (state.max_steps <= 0) return;
  const std::int64_t per_ema = state.max_steps / options_.every_steps + (state.max_steps % options_.every_steps != 0);
  const std::uint64_t snapshots = static_cast<std::uint64_t>(per_ema) * options_.sigma_rels.size();
  const std::uint64_t each = snapshot_bytes(state.model());
  if (snapshots * each <= options_.budget_bytes) return;
  throw Error("posthoc: the run's " + std::to_string(snapshots) + " snapshots (" + std::to_string(per_ema) +
              " per EMA, every " + std::to_string(options_.every_steps) + " steps up to step " +
              std::to_string(state.max_steps) + ") need " + format_bytes(static_cast<double>(snapshots * each)) +
              " but the budget is " + format_bytes(static_cast<double>(options_.budget_bytes)) +
              "; raise averaging.posthoc.every_steps or averaging.posthoc.budget");
}

void PosthocEmaCallback::on_event(trainer::Event event, trainer::TrainState& state) {
  EmaCallback::on_event(event, state);
  if (event == trainer::Event::train_begin) require_budget(state);
  if (event == trainer::Event::train_end && state.step > last_snapshot_step_ && average(0)->has_average()) {
    write_snapshots(state);
  }
}

void PosthocEmaCallback::after_update(trainer::TrainState& state) {
  if (state.step % options_.every_steps == 0) write_snapshots(state);
}

void PosthocEmaCallback::write_snapshots(trainer::TrainState& state) {
  const std::filesystem::path directory = state.output_dir / "posthoc";
  for (std::size_t i = 0; i < options_.sigma_rels.size(); ++i) {
    const std::filesystem::path folder = posthoc_snapshot_folder(directory, state.step, options_.sigma_rels[i]);
    state.save_model_with(output_weights(i), folder);
    if (!state.is_main_process()) continue;
    const auto* ema = static_cast<const EmaAverage*>(average(i));
    const nlohmann::json record = {
        {"step", state.step}, {"gamma", *ema->options().power_gamma}, {"sigma_rel", options_.sigma_rels[i]}};
    io::write_file_atomically(posthoc_record_path(folder), record.dump() + "\n");
  }
  last_snapshot_step_ = state.step;
  if (state.is_main_process()) {
    LADLE_LOG(info) << "posthoc: wrote the snapshots of step " << state.step << " to " << directory.string();
  }
}

}  // namespace ladle::callbacks
