// Callback types by name, so a config's `callbacks:` list (TrainConfig::callbacks) can add callbacks that live
// in other libraries (the averaging callbacks, a user's own). A library registers a factory per type once,
// before configs are used, e.g. from a function the program calls at start-up:
//
//   void register_averaging_callbacks() {
//     trainer::register_callback_type("ema", "exponential moving average of the weights",
//         [](const trainer::CallbackSpec& spec, const trainer::TrainConfig&) {
//           EmaOptions options;
//           if (spec.options.contains("decay")) options.decay = spec.options.at("decay").get<double>();
//           return std::make_shared<EmaCallback>(options);
//         });
//   }
//
// (A static registration object in a static library would be dropped by the linker when nothing else in its
// file is referenced; an explicit call keeps it.) The Trainer makes the config's callbacks with make_callback.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trainer/callback.h"
#include "trainer/train_config.h"

namespace ladle::trainer {

// Makes a callback from a config entry. Throw ladle::Error starting with spec.where for a bad option
// ("train.yml:12: callbacks[0].decay: must be in [0, 1]"); reject options the type does not know.
using CallbackFactory = std::function<std::shared_ptr<Callback>(const CallbackSpec& spec, const TrainConfig& config)>;

// Registers (or replaces) the factory of a type. Thread-safe.
void register_callback_type(const std::string& type, const std::string& description, CallbackFactory factory);

// The registered types and their descriptions, sorted by type.
std::vector<std::pair<std::string, std::string>> registered_callback_types();

// The callback the entry describes. Throws ladle::Error starting with spec.where for an unregistered type
// (listing the registered ones) and passes on the factory's errors.
std::shared_ptr<Callback> make_callback(const CallbackSpec& spec, const TrainConfig& config);

}  // namespace ladle::trainer
