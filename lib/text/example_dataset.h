// ExampleDataset: an indexed collection of tokenized examples for the DataLoader (instruction examples held in
// memory, blocks of a tokenized corpus made on demand), and views of one: a task filter and a random subset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/text/tokenized_example.h"

namespace ladle::text {

class ExampleDataset {
 public:
  virtual ~ExampleDataset() = default;
  virtual std::size_t size() const = 0;
  // The example at index; throws ladle::Error when index >= size().
  virtual TokenizedExample example(std::size_t index) const = 0;
  // The task of the example at index (cheaper than example(index).task); throws ladle::Error when out of range.
  virtual std::string task(std::size_t index) const = 0;
};

// Examples held in memory (an instruction set: tens of thousands of short sequences).
class TokenizedDataset final : public ExampleDataset {
 public:
  explicit TokenizedDataset(std::vector<TokenizedExample> examples);
  std::size_t size() const override { return examples_.size(); }
  TokenizedExample example(std::size_t index) const override;
  std::string task(std::size_t index) const override;
  const std::vector<TokenizedExample>& examples() const { return examples_; }

 private:
  std::vector<TokenizedExample> examples_;
};

// A view of some of another dataset's examples, in the given order.
class SubsetDataset final : public ExampleDataset {
 public:
  // Throws ladle::Error when an index is out of the base's range.
  SubsetDataset(std::shared_ptr<const ExampleDataset> base, std::vector<std::size_t> indices);
  std::size_t size() const override { return indices_.size(); }
  TokenizedExample example(std::size_t index) const override;
  std::string task(std::size_t index) const override;
  // The base dataset's index of each example of this view.
  const std::vector<std::size_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const ExampleDataset> base_;
  std::vector<std::size_t> indices_;
};

// The examples whose task is one of `tasks`, in dataset order. Throws ladle::Error naming a requested task that
// no example has (a misspelt task name would otherwise select nothing silently).
std::shared_ptr<const SubsetDataset> filter_by_task(std::shared_ptr<const ExampleDataset> dataset,
                                                    const std::vector<std::string>& tasks);

// `count` examples drawn without replacement with a seeded permutation (seeded_permutation.h), kept in dataset
// order: the same seed gives the same evaluation subset on every run and platform. Throws ladle::Error when
// count > dataset->size().
std::shared_ptr<const SubsetDataset> random_subset(std::shared_ptr<const ExampleDataset> dataset, std::size_t count,
                                                   std::uint64_t seed);

}  // namespace ladle::text
