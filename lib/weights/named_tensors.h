// NamedTensors: the ordered name -> tensor set that every weight-space operation in ladle reads and writes
// (a model's state, a task vector, a checkpoint's contents, an average).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ladle {

class NamedTensors {
 public:
  using Entry = std::pair<std::string, at::Tensor>;

  NamedTensors() = default;

  // Appends a tensor; throws ladle::Error if the name is already present.
  void insert(std::string name, at::Tensor tensor);
  // Replaces the tensor under an existing name, or appends it when the name is new.
  void insert_or_assign(const std::string& name, at::Tensor tensor);

  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws ladle::Error naming the tensor when it is absent.
  const at::Tensor& at(const std::string& name) const;
  at::Tensor& at(const std::string& name);

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<std::string> names() const;

  // Iteration in insertion order over (name, tensor) pairs.
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }
  std::vector<Entry>::iterator begin() { return entries_.begin(); }
  std::vector<Entry>::iterator end() { return entries_.end(); }

  // Total number of elements and of bytes over all tensors.
  std::int64_t numel() const;
  std::int64_t nbytes() const;

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace ladle
