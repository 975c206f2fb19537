#include "lib/weights/named_tensor_ops.h"

#include <ATen/ATen.h>

#include <sstream>

#include "lib/util/error.h"
#include "lib/util/shape_text.h"
#include "lib/weights/tensor_ops.h"

namespace ladle {
namespace {

// How many names each part of a layout error lists before summarising the rest as a count.
constexpr std::size_t kListedNames = 5;

std::string quoted_list(const std::vector<std::string>& items) {
  std::ostringstream out;
  for (std::size_t i = 0; i < items.size() && i < kListedNames; ++i) out << (i ? ", " : "") << items[i];
  if (items.size() > kListedNames) out << " and " << items.size() - kListedNames << " more";
  return out.str();
}

// Runs a per-tensor operation, prefixing any error with the operation and the tensor's name.
template <typename Op>
auto for_tensor(const std::string& op, const std::string& name, const Op& run) -> decltype(run()) {
  try {
    return run();
  } catch (const Error& error) {
    throw Error(op + ": tensor '" + name + "': " + error.what());
  }
}

void require_same_layout_for(const std::string& op, const NamedTensors& a, const NamedTensors& b,
                             const std::string& label_a, const std::string& label_b) {
  try {
    require_same_layout(a, b, label_a, label_b);
  } catch (const Error& error) {
    throw Error(op + ": " + error.what());
  }
}

std::vector<const NamedTensors*> checked_sets(const std::vector<const NamedTensors*>& sets,
                                              const std::vector<double>& weights, const std::string& op) {
  if (sets.empty()) throw Error(op + ": no sets given");
  if (weights.size() != sets.size()) {
    throw Error(op + ": " + std::to_string(sets.size()) + " sets but " + std::to_string(weights.size()) + " weights");
  }
  for (std::size_t i = 0; i < sets.size(); ++i) {
    if (sets[i] == nullptr) throw Error(op + ": input " + std::to_string(i) + " is null");
    if (i > 0) require_same_layout_for(op, *sets[0], *sets[i], "input 0", "input " + std::to_string(i));
  }
  return sets;
}

// Applies combine(tensors of every set under one name) name by name, in the first set's order.
template <typename Combine>
NamedTensors combine_by_name(const std::vector<const NamedTensors*>& sets, const std::string& op,
                             const Combine& combine) {
  NamedTensors result;
  for (const auto& [name, first] : *sets[0]) {
    std::vector<at::Tensor> tensors;
    tensors.reserve(sets.size());
    tensors.push_back(first);
    for (std::size_t i = 1; i < sets.size(); ++i) tensors.push_back(sets[i]->at(name));
    result.insert(name, for_tensor(op, name, [&] { return combine(tensors); }));
  }
  return result;
}

}  // namespace

void require_same_layout(const NamedTensors& a, const NamedTensors& b, const std::string& label_a,
                         const std::string& label_b) {
  std::vector<std::string> missing_from_b;
  std::vector<std::string> only_in_b;
  std::vector<std::string> shape_mismatches;
  for (const auto& [name, tensor] : a) {
    if (!b.contains(name)) {
      missing_from_b.push_back("'" + name + "'");
    } else if (!tensor.sizes().equals(b.at(name).sizes())) {
      shape_mismatches.push_back("'" + name + "' " + shape_text(tensor.sizes()) + " in " + label_a + " vs " +
                                 shape_text(b.at(name).sizes()) + " in " + label_b);
    }
  }
  for (const auto& entry : b) {
    if (!a.contains(entry.first)) only_in_b.push_back("'" + entry.first + "'");
  }
  if (missing_from_b.empty() && only_in_b.empty() && shape_mismatches.empty()) return;

  std::ostringstream message;
  message << "the tensors of " << label_a << " and " << label_b << " differ";
  if (!missing_from_b.empty()) {
    message << "; " << missing_from_b.size() << " missing from " << label_b << ": " << quoted_list(missing_from_b);
  }
  if (!only_in_b.empty()) {
    message << "; " << only_in_b.size() << " only in " << label_b << ": " << quoted_list(only_in_b);
  }
  if (!shape_mismatches.empty()) {
    message << "; " << shape_mismatches.size() << " with different shapes: " << quoted_list(shape_mismatches);
  }
  throw Error(message.str());
}

NamedTensors weighted_sum(const std::vector<const NamedTensors*>& sets, const std::vector<double>& weights) {
  return combine_by_name(checked_sets(sets, weights, "weighted_sum"), "weighted_sum",
                         [&](const std::vector<at::Tensor>& tensors) { return weighted_sum(tensors, weights); });
}

NamedTensors weighted_mean(const std::vector<const NamedTensors*>& sets, const std::vector<double>& weights) {
  return combine_by_name(checked_sets(sets, weights, "weighted_mean"), "weighted_mean",
                         [&](const std::vector<at::Tensor>& tensors) { return weighted_mean(tensors, weights); });
}

NamedTensors lerp(const NamedTensors& a, const NamedTensors& b, double t) {
  require_same_layout_for("lerp", a, b, "the first set", "the second set");
  return combine_by_name({&a, &b}, "lerp",
                         [&](const std::vector<at::Tensor>& pair) { return ladle::lerp(pair[0], pair[1], t); });
}

NamedTensors task_vector(const NamedTensors& finetuned, const NamedTensors& base) {
  require_same_layout_for("task_vector", finetuned, base, "finetuned", "base");
  return combine_by_name({&finetuned, &base}, "task_vector",
                         [](const std::vector<at::Tensor>& pair) { return difference(pair[0], pair[1]); });
}

NamedTensors add_scaled(const NamedTensors& base, const NamedTensors& delta, double scale) {
  require_same_layout_for("add_scaled", base, delta, "base", "delta");
  return combine_by_name({&base, &delta}, "add_scaled", [&](const std::vector<at::Tensor>& pair) {
    return weighted_sum(pair, {1.0, scale});
  });
}

std::vector<std::pair<std::string, double>> per_tensor_l2_norms(const NamedTensors& set) {
  std::vector<std::pair<std::string, double>> norms;
  norms.reserve(set.size());
  for (const auto& [name, tensor] : set) {
    // An init-capture: a lambda may not capture a structured binding before C++20 (clang refuses it).
    norms.emplace_back(name,
                       for_tensor("per_tensor_l2_norms", name, [&tensor = tensor] { return ladle::l2_norm(tensor); }));
  }
  return norms;
}

std::vector<std::pair<std::string, double>> per_tensor_cosine(const NamedTensors& a, const NamedTensors& b) {
  require_same_layout_for("per_tensor_cosine", a, b, "the first set", "the second set");
  std::vector<std::pair<std::string, double>> cosines;
  cosines.reserve(a.size());
  for (const auto& [name, tensor] : a) {
    cosines.emplace_back(name, for_tensor("per_tensor_cosine", name, [&b, &name = name, &tensor = tensor] {
                           return ladle::cosine_similarity(tensor, b.at(name));
                         }));
  }
  return cosines;
}

NamedTensors cast(const NamedTensors& set, at::ScalarType dtype) {
  if (!at::isFloatingType(dtype)) {
    throw Error(std::string("cast: target dtype ") + c10::toString(dtype) + " is not a floating-point dtype");
  }
  NamedTensors result;
  for (const auto& [name, tensor] : set) {
    const bool floating = tensor.defined() && at::isFloatingType(tensor.scalar_type());
    result.insert(
        name, floating ? for_tensor("cast", name, [&tensor = tensor, dtype] { return to_storage_dtype(tensor, dtype); })
                       : tensor);
  }
  return result;
}

}  // namespace ladle
