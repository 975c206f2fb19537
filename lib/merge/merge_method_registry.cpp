#include "lib/merge/merge_method_registry.h"

#include <map>
#include <memory>

#include "lib/merge/methods/linear.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

using Registry = std::map<std::string, std::unique_ptr<MergeMethod>>;

void add(Registry& registry, std::unique_ptr<MergeMethod> method) {
  const std::string name = method->name();
  registry.emplace(name, std::move(method));
}

// Every built-in method, keyed by its mergekit name; built once, on first use (thread-safe static init).
const Registry& registry() {
  static const Registry methods = [] {
    Registry built;
    add(built, std::make_unique<LinearMerge>());
    return built;
  }();
  return methods;
}

}  // namespace

const MergeMethod& find_merge_method(const std::string& name) {
  const auto found = registry().find(name);
  if (found != registry().end()) return *found->second;
  std::string known;
  for (const auto& entry : registry()) known += (known.empty() ? "" : ", ") + entry.first;
  throw Error("unknown merge_method '" + name + "'; known methods: " + known);
}

std::vector<std::string> merge_method_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

}  // namespace ladle::merge
