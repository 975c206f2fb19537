#include "lib/text/example_dataset.h"

#include <algorithm>
#include <set>

#include "lib/text/seeded_permutation.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

void require_index(std::size_t index, std::size_t size, const char* what) {
  if (index >= size) {
    throw Error(std::string(what) + ": example " + std::to_string(index) + " is out of range (size " +
                std::to_string(size) + ")");
  }
}

}  // namespace

TokenizedDataset::TokenizedDataset(std::vector<TokenizedExample> examples) : examples_(std::move(examples)) {
  for (std::size_t i = 0; i < examples_.size(); ++i) {
    if (examples_[i].input_ids.size() != examples_[i].labels.size()) {
      throw Error("tokenized dataset: example " + std::to_string(i) + " has " +
                  std::to_string(examples_[i].input_ids.size()) + " input ids but " +
                  std::to_string(examples_[i].labels.size()) + " labels");
    }
  }
}

TokenizedExample TokenizedDataset::example(std::size_t index) const {
  require_index(index, examples_.size(), "tokenized dataset");
  return examples_[index];
}

std::string TokenizedDataset::task(std::size_t index) const {
  require_index(index, examples_.size(), "tokenized dataset");
  return examples_[index].task;
}

SubsetDataset::SubsetDataset(std::shared_ptr<const ExampleDataset> base, std::vector<std::size_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  if (!base_) throw Error("subset dataset: no base dataset");
  for (const auto index : indices_) require_index(index, base_->size(), "subset dataset");
}

TokenizedExample SubsetDataset::example(std::size_t index) const {
  require_index(index, indices_.size(), "subset dataset");
  return base_->example(indices_[index]);
}

std::string SubsetDataset::task(std::size_t index) const {
  require_index(index, indices_.size(), "subset dataset");
  return base_->task(indices_[index]);
}

std::shared_ptr<const SubsetDataset> filter_by_task(std::shared_ptr<const ExampleDataset> dataset,
                                                    const std::vector<std::string>& tasks) {
  if (!dataset) throw Error("filter by task: no dataset");
  const std::set<std::string> wanted(tasks.begin(), tasks.end());
  std::set<std::string> seen;
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < dataset->size(); ++i) {
    auto task = dataset->task(i);
    if (wanted.count(task) == 0) continue;
    indices.push_back(i);
    seen.insert(std::move(task));
  }
  for (const auto& task : wanted) {
    if (seen.count(task) == 0) throw Error("filter by task: no example has task '" + task + "'");
  }
  return std::make_shared<SubsetDataset>(std::move(dataset), std::move(indices));
}

std::shared_ptr<const SubsetDataset> random_subset(std::shared_ptr<const ExampleDataset> dataset, std::size_t count,
                                                   std::uint64_t seed) {
  if (!dataset) throw Error("random subset: no dataset");
  if (count > dataset->size()) {
    throw Error("random subset: cannot draw " + std::to_string(count) + " examples from " +
                std::to_string(dataset->size()));
  }
  auto indices = seeded_permutation(dataset->size(), seed);
  indices.resize(count);
  std::sort(indices.begin(), indices.end());
  return std::make_shared<SubsetDataset>(std::move(dataset), std::move(indices));
}

}  // namespace ladle::text
