#include "lib/merge/merge_method_registry.h"

#include <map>
#include <memory>

#include "lib/merge/methods/arcee_fusion.h"
#include "lib/merge/methods/consensus.h"
#include "lib/merge/methods/fisher.h"
#include "lib/merge/methods/generalized_task_arithmetic.h"
#include "lib/merge/methods/isotropic.h"
#include "lib/merge/methods/karcher.h"
#include "lib/merge/methods/linear.h"
#include "lib/merge/methods/model_stock.h"
#include "lib/merge/methods/multislerp.h"
#include "lib/merge/methods/nearswap.h"
#include "lib/merge/methods/passthrough.h"
#include "lib/merge/methods/ram.h"
#include "lib/merge/methods/sce.h"
#include "lib/merge/methods/slerp.h"
#include "lib/merge/methods/task_singular_vectors.h"
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
    add(built, std::make_unique<SlerpMerge>());
    add(built, std::make_unique<NuSlerpMerge>());
    add(built, std::make_unique<MultiSlerpMerge>());
    add(built, std::make_unique<KarcherMerge>());
    for (TaskArithmeticVariant& variant : task_arithmetic_variants()) {
      add(built, std::make_unique<GeneralizedTaskArithmeticMerge>(std::move(variant)));
    }
    add(built, std::make_unique<SceMerge>());
    add(built, std::make_unique<ModelStockMerge>());
    add(built, std::make_unique<NearSwapMerge>());
    add(built, std::make_unique<ArceeFusionMerge>());
    add(built, std::make_unique<RamMerge>(/*plus=*/false));
    add(built, std::make_unique<RamMerge>(/*plus=*/true));
    add(built, std::make_unique<PassthroughMerge>());
    add(built, std::make_unique<FisherMerge>());
    add(built, std::make_unique<TaskSingularVectorMerge>());
    add(built, std::make_unique<IsotropicCommonMerge>());
    add(built, std::make_unique<IsotropicCommonAndTaskMerge>());
    add(built, std::make_unique<ConsensusMerge>(/*ties=*/false));
    add(built, std::make_unique<ConsensusMerge>(/*ties=*/true));
    add(built, std::make_unique<TallMaskMerge>());
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
