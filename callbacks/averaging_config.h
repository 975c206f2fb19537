// The `averaging:` section of a training config, and the callbacks it asks for.
//
//   averaging:
//     ema:  {decay: 0.999, warmup: false, warmup_gamma: 1.0, warmup_power: 0.6667, min_decay: 0.0,
//            start_step: 0, every: 1, buffers: average, offload_to_cpu: false, evaluate: true, save_model: true}
//     swa:  {start_step: 150, every: 5, buffers: copy, evaluate: true, save_model: true,
//            lr: {swa_lr: 0.0005, anneal_steps: 10, anneal: cos}}      # lr: optional (SWALR's phase)
//     lawa: {k: 5, start_step: 0, every: 20, storage: memory, directory: "", buffers: average,
//            evaluate: true, save_model: true}
//     soup:    {greedy: true, metric: loss, include_checkpoints: true, include_averages: true}
//     wise_ft: {alphas: [0, 0.1, ..., 1], shifted: shifted.jsonl, select_metric: id/loss, max_examples: 256}
// Every key is optional and defaults as the options structs declare (ema_average.h, swa_average.h,
// lawa_average.h, swa_lr_schedule.h, averaging_callbacks.h, end_of_run_callbacks.h); a sub-section that is present turns its callback on
// (`enabled: false` turns it off again, e.g. from --set averaging.ema.enabled=false). Unknown keys and values
// of the wrong type or range are errors naming the key ("averaging.ema.decay: expected a number in [0, 1]").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callbacks/averaging_callbacks.h"
#include "callbacks/end_of_run_callbacks.h"

namespace ladle::callbacks {

struct EmaCallbackConfig {
  EmaOptions average;
  AveragingCallbackOptions callback;
};

struct SwaCallbackConfig {
  SwaOptions average;
  std::optional<SwaLrOptions> lr;  // SWALR's learning-rate phase, when given
  AveragingCallbackOptions callback;
};

struct LawaCallbackConfig {
  LawaOptions average;
  AveragingCallbackOptions callback;
};

struct AveragingConfig {
  std::optional<EmaCallbackConfig> ema;
  std::optional<SwaCallbackConfig> swa;
  std::optional<LawaCallbackConfig> lawa;
  std::optional<SoupCallbackOptions> soup;
  std::optional<WiseFtCallbackOptions> wise_ft;

  // Parses the section (a JSON object, e.g. a YAML mapping converted to JSON; null means no averaging). Relative
  // paths (LAWA's directory, WiSE-FT's shifted set) resolve against `base_dir`. Throws ladle::Error naming the dotted key, prefixed by `source`.
  static AveragingConfig from_json(const nlohmann::json& section, const std::string& source = "averaging",
                                   const std::filesystem::path& base_dir = {});
  // The section back as JSON (every key, defaults included), for the record of a run's config.
  nlohmann::json to_json() const;
};

// EmaCallback, SwaCallback, LawaCallback, SoupCallback, WiseFtCallback for the sub-sections present, in that order
// (the order they run in: the soup can then take the averaged models as candidates).
std::vector<std::shared_ptr<trainer::Callback>> make_averaging_callbacks(const AveragingConfig& config);

}  // namespace ladle::callbacks
