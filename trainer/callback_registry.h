// Callback types by name, so that a config can turn on callbacks that live in libraries above the trainer (the
// averaging callbacks of callbacks/, a user's own) through its `averaging:` section and its `callbacks:` list:
//
//   averaging:                      # one sub-section per type: its key is the type, its mapping the options
//     ema: {decay: 0.999}
//   callbacks:                      # a list of entries: `type` and the options
//     - {type: swa, start_step: 100}
//
// The built-in types (ema, swa, lawa, soup, wise_ft) are registered by the callbacks library itself, when a
// program that links it starts (callbacks/builtin_callback_types.cpp): a program never calls anything for them.
// A program registers its own types before it builds a Trainer:
//
//   trainer::register_callback_type("best_loss", "checkpoints on every new best held-out loss",
//       [](const trainer::CallbackSpec& spec, const trainer::TrainConfig&) {
//         return std::make_shared<BestLoss>(spec.options.value("patience", 3));
//       });
//
// The Trainer makes the config's callbacks with make_config_callbacks when it is constructed, before it loads the
// model and data, so a misspelt type or option fails at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainer/callback.h"
#include "trainer/train_config.h"

namespace ladle::trainer {

// Makes a callback from a config entry. Throw ladle::Error starting with spec.where for a bad option
// ("train.yml:12: callbacks[0].decay: must be in [0, 1]") and reject options the type does not know. Return null
// when the options turn the callback off (`enabled: false`, e.g. from --set averaging.ema.enabled=false).
using CallbackFactory = std::function<std::shared_ptr<Callback>(const CallbackSpec& spec, const TrainConfig& config)>;

struct CallbackType {
  std::string name;         // the type name a config uses ("ema")
  std::string description;  // one line for `ladle train --list-callbacks`
};

// Registers the factory of a type; registering a type again replaces its factory and description (it keeps its
// place in the order). Thread-safe.
void register_callback_type(const std::string& type, const std::string& description, CallbackFactory factory);

// The registered types in the order they were first registered: `ladle train --list-callbacks` and the message
// about an unknown type list them.
std::vector<CallbackType> registered_callback_types();

// The callback the entry describes, or null when its options turn it off. Throws ladle::Error starting with
// spec.where for an unregistered type (with the nearest registered name when it is a near miss, and every
// registered type) and passes on the factory's errors.
std::shared_ptr<Callback> make_callback(const CallbackSpec& spec, const TrainConfig& config);

// Every callback the config turns on: one per `averaging:` sub-section, in the order the types were registered (the
// built-ins: ema, swa, lawa, soup, wise_ft, so a soup finds the averages written before it at train end), then one
// per `callbacks:` entry, in list order. Messages name the sub-section ("train.yml:7: averaging.ema") or the
// entry ("train.yml:12: callbacks[0]").
std::vector<std::shared_ptr<Callback>> make_config_callbacks(const TrainConfig& config);

}  // namespace ladle::trainer
