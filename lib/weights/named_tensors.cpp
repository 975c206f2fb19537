#include "lib/weights/named_tensors.h"

#include "lib/util/error.h"

namespace ladle {

void NamedTensors::insert(std::string name, at::Tensor tensor) {
  if (contains(name)) throw Error("tensor '" + name + "' is already present in this set");
  index_.emplace(name, entries_.size());
  entries_.emplace_back(std::move(name), std::move(tensor));
}

void NamedTensors::insert_or_assign(const std::string& name, at::Tensor tensor) {
  auto found = index_.find(name);
  if (found == index_.end()) {
    insert(name, std::move(tensor));
  } else {
    entries_[found->second].second = std::move(tensor);
  }
}

const at::Tensor& NamedTensors::at(const std::string& name) const {
  auto found = index_.find(name);
  if (found == index_.end()) throw Error("no tensor named '" + name + "'");
  return entries_[found->second].second;
}

at::Tensor& NamedTensors::at(const std::string& name) {
  return const_cast<at::Tensor&>(static_cast<const NamedTensors&>(*this).at(name));
}

std::vector<std::string> NamedTensors::names() const {
  std::vector<std::string> result;
  result.reserve(entries_.size());
  for (const auto& entry : entries_) result.push_back(entry.first);
  return result;
}

std::int64_t NamedTensors::numel() const {
  std::int64_t total = 0;
  for (const auto& entry : entries_) total += entry.second.numel();
  return total;
}

std::int64_t NamedTensors::nbytes() const {
  std::int64_t total = 0;
  for (const auto& entry : entries_) total += static_cast<std::int64_t>(entry.second.nbytes());
  return total;
}

}  // namespace ladle
