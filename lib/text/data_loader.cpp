#include "lib/text/data_loader.h"

#include <algorithm>
#include <numeric>

#include "lib/text/seeded_permutation.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

const nlohmann::json& field(const nlohmann::json& json, const char* name) {
  const auto found = json.find(name);
  if (found == json.end()) throw Error(std::string("data loader state: missing field '") + name + "'");
  return *found;
}

std::uint64_t count_field(const nlohmann::json& json, const char* name) {
  const auto& value = field(json, name);
  // Parsed JSON holds non-negative integers as unsigned, values built in C++ from int as signed.
  if (value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0)) {
    return value.get<std::uint64_t>();
  }
  throw Error(std::string("data loader state: field '") + name + "' must be a non-negative integer, got " +
              value.dump());
}

bool bool_field(const nlohmann::json& json, const char* name) {
  const auto& value = field(json, name);
  if (!value.is_boolean()) {
    throw Error(std::string("data loader state: field '") + name + "' must be a boolean, got " + value.type_name());
  }
  return value.get<bool>();
}

}  // namespace

nlohmann::json DataLoaderState::to_json() const {
  return {{"epoch", epoch}, {"index", index}, {"seed", seed}, {"shuffle", shuffle}, {"dataset_size", dataset_size}};
}

DataLoaderState DataLoaderState::from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw Error(std::string("data loader state: expected an object, got ") + json.type_name());
  DataLoaderState state;
  state.epoch = count_field(json, "epoch");
  state.index = count_field(json, "index");
  state.seed = count_field(json, "seed");
  state.shuffle = bool_field(json, "shuffle");
  state.dataset_size = count_field(json, "dataset_size");
  return state;
}

DataLoader::DataLoader(std::shared_ptr<const ExampleDataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  if (!dataset_) throw Error("data loader: no dataset");
  if (options_.batch_size == 0) throw Error("data loader: batch_size must be at least 1");
  if (batches_per_epoch() == 0) {
    throw Error("data loader: a dataset of " + std::to_string(dataset_->size()) + " examples gives no batch of " +
                std::to_string(options_.batch_size) + (options_.drop_last ? " with drop_last" : ""));
  }
}

std::size_t DataLoader::batches_per_epoch() const {
  const auto size = dataset_->size();
  const auto batch = options_.batch_size;
  return options_.drop_last ? size / batch : (size + batch - 1) / batch;
}

std::size_t DataLoader::examples_per_epoch() const {
  return options_.drop_last ? batches_per_epoch() * options_.batch_size : dataset_->size();
}

void DataLoader::settle() {
  if (index_ >= examples_per_epoch()) {
    ++epoch_;
    index_ = 0;
  }
}

const std::vector<std::size_t>& DataLoader::current_order() {
  if (!order_valid_ || order_epoch_ != epoch_) {
    if (options_.shuffle) {
      order_ = seeded_permutation(dataset_->size(), epoch_seed(options_.seed, epoch_));
    } else {
      order_.resize(dataset_->size());
      std::iota(order_.begin(), order_.end(), std::size_t{0});
    }
    order_epoch_ = epoch_;
    order_valid_ = true;
  }
  return order_;
}

std::vector<std::size_t> DataLoader::next_indices() {
  const auto& order = current_order();
  const auto end = std::min(index_ + options_.batch_size, examples_per_epoch());
  std::vector<std::size_t> indices(order.begin() + static_cast<std::ptrdiff_t>(index_),
                                   order.begin() + static_cast<std::ptrdiff_t>(end));
  index_ = end;
  settle();
  return indices;
}

Batch DataLoader::next() {
  const auto indices = next_indices();
  std::vector<TokenizedExample> examples;
  examples.reserve(indices.size());
  for (const auto index : indices) examples.push_back(dataset_->example(index));
  return collate(examples, options_.pad_id, options_.padding_side);
}

DataLoaderState DataLoader::state() const {
  return {epoch_, index_, options_.seed, options_.shuffle, dataset_->size()};
}

void DataLoader::restore(const DataLoaderState& state) {
  if (state.dataset_size != dataset_->size()) {
    throw Error("data loader: the saved state is for a dataset of " + std::to_string(state.dataset_size) +
                " examples, this one has " + std::to_string(dataset_->size()));
  }
  if (state.shuffle != options_.shuffle) {
    throw Error(std::string("data loader: the saved state has shuffle ") + (state.shuffle ? "on" : "off") +
                ", this loader " + (options_.shuffle ? "on" : "off"));
  }
  if (state.shuffle && state.seed != options_.seed) {
    throw Error("data loader: the saved state has seed " + std::to_string(state.seed) + ", this loader " +
                std::to_string(options_.seed));
  }
  if (state.index > examples_per_epoch()) {
    throw Error("data loader: the saved index " + std::to_string(state.index) + " is past the end of an epoch (" +
                std::to_string(examples_per_epoch()) + " examples)");
  }
  epoch_ = state.epoch;
  index_ = static_cast<std::size_t>(state.index);
  settle();
}

}  // namespace ladle::text
