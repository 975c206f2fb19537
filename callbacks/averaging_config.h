// The options of the averaging callbacks as a config gives them, in an `averaging:` sub-section or a `callbacks:`
// entry of the same type (trainer/callback_registry.h; the two spellings give the same callback):
//
//   averaging:                      # an example; each key's default is the one its options struct declares
//     ema:  {decay: 0.999, every: 1, buffers: average}
//     swa:  {start_step: 150, every: 5, lr: {swa_lr: 0.0005, anneal_steps: 10, anneal: cos}}  # lr: SWALR's phase
//     lawa: {k: 5, every: 20, storage: memory}
//     soup:    {greedy: true, metric: loss, include_checkpoints: true, include_averages: true}
//     wise_ft: {alphas: [0, 0.1, 0.5, 1], shifted: shifted.jsonl, select_metric: id/loss}
//   callbacks:
//     - {type: ema, decay: 0.999}
// Every key is optional and defaults as the options structs declare (ema_average.h, swa_average.h,
// lawa_average.h, swa_lr_schedule.h, averaging_callbacks.h, end_of_run_callbacks.h; e.g. EMA decay 0.9999, SWA and
// LAWA from the first step on every step, LAWA k 10). start_step and every are explained at StepSchedule
// (weight_average.h): start_step 0 and 1 differ when every > 1, and a start_step after the run's last step is an
// error before training. LAWA averages the snapshots it has, fewer than k early on (it logs when). A sub-section
// that is present turns its callback on (`enabled: false` turns it off again, e.g. --set averaging.ema.enabled=false).
// Unknown keys and values of the wrong type or range are errors naming the key ("train.yml:7: averaging.ema.decay:
// expected a number in [0, 1]", "train.yml:12: callbacks[0].decay: ...").
#pragma once

#include <memory>

#include "trainer/callback.h"
#include "trainer/train_config.h"

namespace ladle::callbacks {

// The callback of each type from its options (spec.options), checked key by key; messages start with spec.where and
// relative paths (LAWA's directory, WiSE-FT's shifted set) resolve against spec.base_dir. Null when the options say
// `enabled: false`. The factories that callbacks/builtin_callback_types.cpp registers.
std::shared_ptr<trainer::Callback> make_ema_callback(const trainer::CallbackSpec& spec);
std::shared_ptr<trainer::Callback> make_swa_callback(const trainer::CallbackSpec& spec);
std::shared_ptr<trainer::Callback> make_lawa_callback(const trainer::CallbackSpec& spec);
std::shared_ptr<trainer::Callback> make_soup_callback(const trainer::CallbackSpec& spec);
std::shared_ptr<trainer::Callback> make_wise_ft_callback(const trainer::CallbackSpec& spec);

}  // namespace ladle::callbacks
