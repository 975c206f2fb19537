// The options of the built-in callbacks as a config gives them, in an `averaging:` sub-section or a `callbacks:`
// entry of the same type (trainer/callback_registry.h; the two spellings give the same callback):
//
//   averaging:                      # an example; the defaults are the options structs' (docs/config.md lists them)
//     ema:  {decay: 0.999, every: 1, buffers: average}     # or a list of named EMAs, updated in one pass:
//     # ema: [{name: slow, sigma_rel: 0.05}, {name: fast, half_life_steps: 500, exclude: ['\.bias$']}]
//     swa:  {start_step: 150, every: 5, lr: {swa_lr: 0.0005, anneal_steps: 10, anneal: cos}}  # lr: SWALR's phase
//     lawa: {k: 5, every: 20, storage: memory}
//     posthoc: {sigma_rels: [0.05, 0.10], every_steps: 1000, budget: 20GB}  # snapshots for `ladle posthoc-ema`
//     soup:    {greedy: true, metric: loss, include_checkpoints: true, include_averages: true}
//     wise_ft: {alphas: [0, 0.1, 0.5, 1], shifted: shifted.jsonl, select_metric: id/loss}
//   callbacks:
//     - {type: ema, decay: 0.999}
// Every key is optional and defaults as the options structs declare (ema_average.h, swa_average.h,
// lawa_average.h, swa_lr_schedule.h, averaging_callbacks.h, end_of_run_callbacks.h; e.g. EMA decay 0.9999, SWA and
// LAWA from the first step on every step, LAWA k 10). start_step and every are explained at StepSchedule
// (weight_average.h): start_step 0 and 1 differ when every > 1, and a start_step after the run's last step is an
// error before training. The EMA warm-up counts updates, not optimizer steps (ema_average.h). LAWA averages the
// snapshots it has, fewer than k early on (it logs when). A sub-section that is present turns its callback on
// (`enabled: false` turns it off again, e.g. --set averaging.ema.enabled=false).
//
// Each type's keys are declared once, with their ranges and help, in a config::Schema (averaging_config.cpp), which
// reads them, and renders them in the key reference (`ladle train --help-config`, docs/config.md). Unknown keys and
// values of the wrong type or range are errors naming where the value was given and the key ("train.yml:7:
// averaging.ema.decay: expected a number in [0, 1], got 2", "--set averaging.ema.decay=2: averaging.ema.decay:
// ...", "train.yml:12: callbacks[0].decay: ..."); relative paths resolve against the folder of the file that gave
// them, or the current directory for a --set value.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lib/config/key_reference.h"
#include "trainer/callback.h"
#include "trainer/train_config.h"

namespace ladle::callbacks {

// A callback type of this library: what callbacks/builtin_callback_types.cpp registers.
struct BuiltinCallbackType {
  const char* name;         // the type name a config uses ("ema")
  const char* description;  // one line: `ladle train --list-callbacks` and the key reference
  // The callback of the spec's options, read key by key with the type's schema; null when they say
  // `enabled: false`.
  std::shared_ptr<trainer::Callback> (*make)(const trainer::CallbackSpec& spec);
  // The type's keys under `prefix` ("averaging.ema"), with their types, ranges, defaults and help.
  std::vector<config::KeyReference> (*reference)(const std::string& prefix);
};

// ema, swa, lawa, posthoc, soup, wise_ft: the order in which a config's `averaging:` makes them (the soup gathers the
// averages the callbacks before it wrote at train end).
const std::vector<BuiltinCallbackType>& builtin_callback_types();

// Every built-in type's keys as a sub-section of `prefix` ("averaging.ema", ...): the `averaging:` part of the
// training config's key reference.
std::vector<config::KeyReference> averaging_reference(const std::string& prefix = "averaging");

}  // namespace ladle::callbacks
