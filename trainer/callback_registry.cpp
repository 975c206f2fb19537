#include "trainer/callback_registry.h"

#include <map>
#include <mutex>

#include "lib/util/error.h"

namespace ladle::trainer {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, std::pair<std::string, CallbackFactory>> types;  // type -> (description, factory)
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

void register_callback_type(const std::string& type, const std::string& description, CallbackFactory factory) {
  if (type.empty() || !factory) throw Error("register_callback_type: needs a type name and a factory");
  std::lock_guard<std::mutex> lock(registry().mutex);
  registry().types[type] = {description, std::move(factory)};
}

std::vector<std::pair<std::string, std::string>> registered_callback_types() {
  std::lock_guard<std::mutex> lock(registry().mutex);
  std::vector<std::pair<std::string, std::string>> types;
  for (const auto& [type, entry] : registry().types) types.emplace_back(type, entry.first);
  return types;
}

std::shared_ptr<Callback> make_callback(const CallbackSpec& spec, const TrainConfig& config) {
  CallbackFactory factory;
  std::string known;
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    const auto found = registry().types.find(spec.type);
    if (found != registry().types.end()) factory = found->second.second;
    for (const auto& [type, entry] : registry().types) known += (known.empty() ? "" : ", ") + type;
  }
  if (!factory) {
    throw Error(spec.where + ".type: unknown callback type '" + spec.type +
                "' (registered: " + (known.empty() ? "none" : known) + ")");
  }
  auto callback = factory(spec, config);
  if (!callback) throw Error(spec.where + ": the factory of callback type '" + spec.type + "' made no callback");
  return callback;
}

}  // namespace ladle::trainer
