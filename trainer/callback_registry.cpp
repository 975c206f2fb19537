#include "trainer/callback_registry.h"

#include <algorithm>
#include <mutex>

#include "lib/config/config_source.h"
#include "lib/config/suggestion.h"
#include "lib/util/error.h"

namespace ladle::trainer {
namespace {

struct RegisteredType {
  CallbackType type;
  CallbackFactory factory;
};

struct Registry {
  std::mutex mutex;
  std::vector<RegisteredType> types;  // in the order they were first registered
};

Registry& registry() {
  static Registry instance;
  return instance;
}

// "unknown callback type 'emaa' (did you mean 'ema'?); registered types: ema, swa, ..."
std::string unknown_type_message(const std::string& type, const std::vector<CallbackType>& registered) {
  std::vector<std::string> names;
  for (const auto& known : registered) names.push_back(known.name);
  return "unknown callback type '" + type + "'" + config::did_you_mean(type, names) +
         "; registered types: " + (names.empty() ? "none" : config::comma_list(names));
}

// One spec per `averaging:` sub-section, in the order their types were registered.
std::vector<CallbackSpec> averaging_specs(const AveragingSection& averaging) {
  if (averaging.section.is_null()) return {};
  const std::vector<CallbackType> registered = registered_callback_types();
  std::vector<std::pair<std::ptrdiff_t, CallbackSpec>> ranked;  // (place in the registration order, spec)
  for (const auto& [type, options] : averaging.section.items()) {
    CallbackSpec spec;
    spec.type = type;
    spec.key = averaging.key + "." + type;
    spec.where = averaging.source ? averaging.source->where(spec.key) + ": " + spec.key : spec.key;
    spec.base_dir = averaging.base_dir;
    spec.source = averaging.source;
    const auto found = std::find_if(registered.begin(), registered.end(),
                                    [&spec](const CallbackType& known) { return known.name == spec.type; });
    if (found == registered.end()) throw Error(spec.where + ": " + unknown_type_message(type, registered));
    // A sub-section present without options (`ema:`) turns its callback on with the defaults.
    if (!options.is_null()) spec.options = options;
    if (!spec.options.is_object() && !spec.options.is_array()) {  // a list: several of the type (averaging.ema)
      throw Error(spec.where + ": expected a mapping of options (or a list of them), got " + options.dump());
    }
    ranked.emplace_back(found - registered.begin(), std::move(spec));
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<CallbackSpec> specs;
  for (auto& [rank, spec] : ranked) specs.push_back(std::move(spec));
  return specs;
}

}  // namespace

void register_callback_type(const std::string& type, const std::string& description, CallbackFactory factory) {
  if (type.empty() || !factory) throw Error("register_callback_type: needs a type name and a factory");
  std::lock_guard<std::mutex> lock(registry().mutex);
  auto& types = registry().types;
  const auto found =
      std::find_if(types.begin(), types.end(), [&](const RegisteredType& known) { return known.type.name == type; });
  if (found != types.end()) {
    *found = {{type, description}, std::move(factory)};
  } else {
    types.push_back({{type, description}, std::move(factory)});
  }
}

std::vector<CallbackType> registered_callback_types() {
  std::lock_guard<std::mutex> lock(registry().mutex);
  std::vector<CallbackType> types;
  for (const auto& known : registry().types) types.push_back(known.type);
  return types;
}

std::shared_ptr<Callback> make_callback(const CallbackSpec& spec, const TrainConfig& config) {
  CallbackFactory factory;
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    for (const auto& known : registry().types) {
      if (known.type.name == spec.type) factory = known.factory;
    }
  }
  if (!factory) throw Error(spec.where + ": " + unknown_type_message(spec.type, registered_callback_types()));
  return factory(spec, config);
}

std::vector<std::shared_ptr<Callback>> make_config_callbacks(const TrainConfig& config) {
  std::vector<CallbackSpec> specs = averaging_specs(config.averaging);
  specs.insert(specs.end(), config.callbacks.begin(), config.callbacks.end());
  std::vector<std::shared_ptr<Callback>> callbacks;
  std::vector<const CallbackSpec*> made_by;
  for (const auto& spec : specs) {
    auto callback = make_callback(spec, config);
    if (!callback) continue;  // turned off by its options
    for (std::size_t i = 0; i < callbacks.size(); ++i) {
      if (callbacks[i]->name() == callback->name()) {
        throw Error(spec.where + ": a callback named '" + callback->name() + "' is already turned on by " +
                    made_by[i]->where + " (each name is one folder and one checkpoint entry)");
      }
    }
    callbacks.push_back(std::move(callback));
    made_by.push_back(&spec);
  }
  return callbacks;
}

}  // namespace ladle::trainer
