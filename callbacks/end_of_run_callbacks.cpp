#include "callbacks/end_of_run_callbacks.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <system_error>
#include <vector>

#include "callbacks/model_soup.h"
#include "lib/io/atomic_file.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/log/log.h"
#include "lib/model/causal_lm.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"
#include "trainer/checkpoint.h"
#include "lib/model/causal_lm_folder.h"
#include "trainer/train_state.h"

namespace ladle::callbacks {
namespace {

// The averaged models the averaging callbacks wrote into `output_dir`: ema/, the named EMAs' ema-<name>/ (in name
// order), swa/, lawa/.
std::vector<std::string> written_averages(const std::filesystem::path& output_dir) {
  std::vector<std::string> named_emas;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(output_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (starts_with(name, "ema-")) named_emas.push_back(name);
  }
  std::sort(named_emas.begin(), named_emas.end());
  std::vector<std::string> candidates = {"ema"};
  candidates.insert(candidates.end(), named_emas.begin(), named_emas.end());
  candidates.insert(candidates.end(), {"swa", "lawa"});
  std::vector<std::string> written;
  for (const auto& candidate : candidates) {
    if (std::filesystem::exists(output_dir / candidate / "config.json", error)) written.push_back(candidate);
  }
  return written;
}

// Copies of the model's weights under their Hugging Face names (which are its parameter names).
NamedTensors live_weights(const model::CausalLm& model) {
  NamedTensors weights;
  for (const auto& [name, tensor] : model.hf_state_dict()) weights.insert(name, tensor.clone());
  return weights;
}

// A model folder's tensors restricted to the names of `reference`.
NamedTensors folder_weights(const std::filesystem::path& folder, const NamedTensors& reference) {
  const NamedTensors all = io::CheckpointReader(folder).load_all();
  NamedTensors weights;
  for (const auto& [name, tensor] : reference) {
    if (!all.contains(name)) throw Error(folder.string() + ": no tensor '" + name + "' (not a model of this run?)");
    weights.insert(name, all.at(name));
  }
  return weights;
}

bool lower_is_better(const std::string& metric) {
  const auto last = metric.substr(metric.rfind('/') + 1);
  return last == "loss" || last == "perplexity";
}

bool skip_for_lora(const trainer::TrainState& state, const std::string& name) {
  if (!model::has_lora_adapters(state.model())) return false;
  LADLE_LOG(warning) << name << ": the run trains LoRA adapters; " << name
                     << " combines full weights, so it does nothing (merge the adapters and use the CLI instead)";
  return true;
}

}  // namespace

// ---- Soup ----

void SoupCallback::on_event(trainer::Event event, trainer::TrainState& state) {
  if (event != trainer::Event::train_end || skip_for_lora(state, name())) return;
  std::vector<NamedTensors> candidates = {live_weights(state.model())};
  std::vector<std::string> labels = {"final (step " + std::to_string(state.step) + ")"};
  if (options_.include_checkpoints) {
    for (const auto& checkpoint : trainer::complete_checkpoints(trainer::checkpoints_dir(state.output_dir))) {
      std::error_code error;
      if (checkpoint.step == state.step || !std::filesystem::exists(checkpoint.path / "model", error)) continue;
      candidates.push_back(folder_weights(checkpoint.path / "model", candidates.front()));
      labels.push_back("checkpoint (step " + std::to_string(checkpoint.step) + ")");
    }
  }
  if (options_.include_averages) {
    for (const std::string& average : written_averages(state.output_dir)) {
      candidates.push_back(folder_weights(state.output_dir / average, candidates.front()));
      labels.push_back(average);
    }
  }
  if (candidates.size() < 2) {
    LADLE_LOG(warning) << "soup: only the final weights are at hand (no kept checkpoint, no averaged model), so there "
                       << "is nothing to soup";
    return;
  }
  std::vector<const NamedTensors*> pointers;
  for (const auto& candidate : candidates) pointers.push_back(&candidate);

  std::string summary;
  NamedTensors soup;
  if (options_.greedy) {
    const std::string metric = "soup_candidate/" + options_.metric;
    GreedySoupOptions greedy_options;
    greedy_options.higher_is_better = !lower_is_better(options_.metric);
    const GreedySoupResult result = greedy_soup(
        pointers,
        [&](const NamedTensors& weights) {
          const auto metrics = state.evaluate_with(weights, "soup_candidate");
          const auto found = metrics.find(metric);
          if (found == metrics.end()) throw Error("soup: the held-out evaluation gave no " + metric);
          return found->second;
        },
        greedy_options);
    soup = result.weights;
    summary = "# Greedy soup (" + metric + ")\n\n" + describe_greedy_soup(result, labels);
  } else {
    soup = uniform_soup(pointers);
    summary = "# Uniform soup\n\n";
    for (const auto& label : labels) summary += label + "\n";
  }
  state.evaluate_with(soup, "soup");
  const std::filesystem::path folder = state.output_dir / "soup";
  state.save_model_with(soup, folder);
  if (state.is_main_process()) {
    io::write_file_atomically(folder / "soup.md", summary);
    LADLE_LOG(info) << "soup: wrote the soup of " << candidates.size() << " candidates to " << folder.string();
  }
}

// ---- WiSE-FT ----

void WiseFtCallback::on_event(trainer::Event event, trainer::TrainState& state) {
  if (event == trainer::Event::train_begin && base_.empty() && !state.resumed) {
    base_ = live_weights(state.model());
    return;
  }
  if (event != trainer::Event::train_end || skip_for_lora(state, name())) return;
  if (base_.empty()) throw Error("wise_ft: the starting weights are missing (the checkpoint held none)");
  model::CausalLm& model = state.model();
  const NamedTensors live = live_weights(model);
  std::unique_ptr<trainer::HeldOutEvaluator> shifted;
  if (!options_.shifted.empty()) {
    // The trainer owns the tokenizer and outlives this call: a non-owning pointer.
    std::shared_ptr<const text::Tokenizer> tokenizer(&state.tokenizer(), [](const text::Tokenizer*) {});
    trainer::HeldOutEvaluationOptions evaluation = options_.shifted_evaluation;
    evaluation.chat_format = trainer::heldout_chat_format(state.config());  // as the run renders its data
    shifted = std::make_unique<trainer::HeldOutEvaluator>(
        tokenizer, std::vector<trainer::HeldOutSet>{{"ood", options_.shifted}}, evaluation);
  }
  sweep_ = wise_ft_sweep(base_, live, options_.alphas, [&](const NamedTensors& weights) {
    trainer::Metrics metrics;
    for (const auto& [name, value] : state.evaluate_with(weights, "wise_ft")) {
      metrics["id" + name.substr(name.find('/'))] = value;
    }
    if (shifted) {
      model.load_hf_state_dict(weights, "WiSE-FT weights");
      try {
        metrics.merge(shifted->evaluate(model, &state.process_group()));
      } catch (...) {
        model.load_hf_state_dict(live, "the live weights");
        throw;
      }
      model.load_hf_state_dict(live, "the live weights");
    }
    return metrics;
  });
  const std::size_t best = best_wise_ft_point(sweep_, options_.select_metric, !lower_is_better(options_.select_metric));
  const WiseFtPoint& chosen = sweep_.points[best];
  // The sweep's evaluations left the last alpha's "wise_ft/..." values behind: replace them by the chosen one's.
  for (auto it = state.metrics.begin(); it != state.metrics.end();) {
    it = starts_with(it->first, "wise_ft/") ? state.metrics.erase(it) : std::next(it);
  }
  state.metrics["wise_ft/alpha"] = chosen.alpha;
  for (const auto& [name, value] : chosen.metrics) {
    const bool ood = starts_with(name, "ood/");
    state.metrics[(ood ? "wise_ft_ood" : "wise_ft") + name.substr(name.find('/'))] = value;
  }
  const std::filesystem::path folder = state.output_dir / "wise_ft";
  state.save_model_with(wise_ft_weights(base_, live, chosen.alpha), folder);
  if (!state.is_main_process()) return;
  if (shifted) {
    WiseFtReportOptions report;
    report.id_metric = "id/loss";
    report.ood_metric = "ood/loss";
    write_wise_ft_report(sweep_, folder, report);
  } else {
    io::write_file_atomically(folder / "wise_ft.md", wise_ft_table(sweep_));
  }
  LADLE_LOG(info) << "wise_ft: chose alpha " << chosen.alpha << " by " << options_.select_metric << "; wrote its model "
                  << "and the sweep to " << folder.string();
}

void WiseFtCallback::save_state(trainer::CallbackState& state) const {
  for (const auto& [name, tensor] : base_) state.tensors.insert("base." + name, tensor);
}

void WiseFtCallback::load_state(const trainer::CallbackState& state) {
  base_ = NamedTensors();
  for (const auto& [name, tensor] : state.tensors) {
    if (starts_with(name, "base.")) base_.insert(name.substr(5), tensor.clone());
  }
}

}  // namespace ladle::callbacks
