// The options of the averaging callbacks as a config gives them, in an `averaging:` sub-section or a `callbacks:`
// entry of the same type (trainer/callback_registry.h; the two spellings give the same callback):
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
//   callbacks:
//     - {type: ema, decay: 0.999}
// Every key is optional and defaults as the options structs declare (ema_average.h, swa_average.h,
// lawa_average.h, swa_lr_schedule.h, averaging_callbacks.h, end_of_run_callbacks.h); a sub-section that is present
// turns its callback on (`enabled: false` turns it off again, e.g. from --set averaging.ema.enabled=false).
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
