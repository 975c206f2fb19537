// DataLoader: batches of a dataset in a seeded order that changes every epoch, with a position that can be saved
// in a checkpoint and restored, so a resumed run sees exactly the batches the uninterrupted run would have seen.
//
//   DataLoaderOptions options;
//   options.batch_size = 16;
//   options.seed = run_seed;
//   DataLoader loader(dataset, options);
//   while (loader.epoch() < epochs) { Batch batch = loader.next(); ... }
//   checkpoint["data_loader"] = loader.state().to_json();     // later: loader.restore(DataLoaderState::from_json(j))
//
// The loader runs on the calling thread, and an epoch's order depends only on the seed, the epoch and the
// dataset's size (seeded_permutation.h), never on threads, platform or standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/text/batch.h"
#include "lib/text/example_dataset.h"

namespace ladle::text {

struct DataLoaderOptions {
  std::size_t batch_size = 8;                     // examples per batch
  bool shuffle = true;                            // a new seeded order each epoch; false: dataset order every epoch
  std::uint64_t seed = 0;                         // epoch e's order is seeded_permutation(size, epoch_seed(seed, e))
  bool drop_last = false;                         // leave out each epoch's last batch when it is smaller
  std::int64_t pad_id = 0;                        // the id at padding (any valid id: mask and labels hide it)
  PaddingSide padding_side = PaddingSide::right;  // right for training, left for generation
};

// A loader's position, and what it must match to be restored.
struct DataLoaderState {
  std::uint64_t epoch = 0;         // epochs completed
  std::uint64_t index = 0;         // examples of the current epoch's order already served
  std::uint64_t seed = 0;          // the loader's seed: another seed gives other orders
  bool shuffle = true;             // whether orders are shuffled
  std::uint64_t dataset_size = 0;  // examples in the dataset: another size gives other orders

  // {"epoch": .., "index": .., "seed": .., "shuffle": .., "dataset_size": ..}
  nlohmann::json to_json() const;
  // Throws ladle::Error naming a missing or mistyped field.
  static DataLoaderState from_json(const nlohmann::json& json);
};

class DataLoader {
 public:
  // Throws ladle::Error when batch_size is 0 or the dataset gives no batch (empty, or smaller than a batch with
  // drop_last).
  DataLoader(std::shared_ptr<const ExampleDataset> dataset, DataLoaderOptions options = {});

  // The next batch of the current epoch (collated with pad_id and padding_side). After an epoch's last batch
  // the loader is at the start of the next epoch.
  Batch next();
  // The dataset indices of the next batch, advancing exactly as next() does.
  std::vector<std::size_t> next_indices();

  std::size_t batches_per_epoch() const;
  // Epochs completed: the epoch the next batch belongs to.
  std::uint64_t epoch() const { return epoch_; }
  DataLoaderState state() const;
  // Continues from a saved state. Throws ladle::Error when its seed, shuffle or dataset size differ from this
  // loader's, or its index is past the end of an epoch. The batch size may differ: no example is skipped or
  // repeated, only the grouping changes.
  void restore(const DataLoaderState& state);

  const DataLoaderOptions& options() const { return options_; }
  const ExampleDataset& dataset() const { return *dataset_; }

 private:
  // Examples served per epoch (all, or whole batches only with drop_last).
  std::size_t examples_per_epoch() const;
  // Moves to the next epoch when the current one has no batch left.
  void settle();
  const std::vector<std::size_t>& current_order();

  std::shared_ptr<const ExampleDataset> dataset_;
  DataLoaderOptions options_;
  std::uint64_t epoch_ = 0;
  std::size_t index_ = 0;
  std::vector<std::size_t> order_;  // the order of order_epoch_
  std::uint64_t order_epoch_ = 0;
  bool order_valid_ = false;
};

}  // namespace ladle::text
