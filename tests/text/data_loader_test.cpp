// DataLoader: seeded per-epoch orders, drop_last, saved and restored positions; task filters and subsets.
#include "lib/text/data_loader.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "lib/text/seeded_permutation.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

using Indices = std::vector<std::size_t>;

// Example i has the single token i (so a batch shows which examples it holds) and task "even" or "odd".
std::shared_ptr<const TokenizedDataset> numbered(std::size_t size) {
  std::vector<TokenizedExample> examples;
  for (std::size_t i = 0; i < size; ++i) {
    const auto id = static_cast<std::int64_t>(i);
    examples.push_back({{id}, {id}, i % 2 == 0 ? "even" : "odd", i});
  }
  return std::make_shared<TokenizedDataset>(std::move(examples));
}

DataLoaderOptions batches_of(std::size_t batch_size, std::uint64_t seed = 0) {
  DataLoaderOptions options;
  options.batch_size = batch_size;
  options.seed = seed;
  return options;
}

// The indices of a whole epoch, in the order served.
Indices epoch_order(DataLoader& loader) {
  Indices order;
  const auto epoch = loader.epoch();
  while (loader.epoch() == epoch) {
    const auto batch = loader.next_indices();
    order.insert(order.end(), batch.begin(), batch.end());
  }
  return order;
}

TEST(DataLoader, SameSeedGivesTheSameOrder) {
  DataLoader a(numbered(50), batches_of(4, 7));
  DataLoader b(numbered(50), batches_of(4, 7));
  for (int epoch = 0; epoch < 3; ++epoch) EXPECT_EQ(epoch_order(a), epoch_order(b));
}

TEST(DataLoader, OrdersDifferAcrossSeedsAndEpochs) {
  DataLoader a(numbered(50), batches_of(4, 7));
  DataLoader b(numbered(50), batches_of(4, 8));
  const auto a0 = epoch_order(a), a1 = epoch_order(a);
  const auto b0 = epoch_order(b);
  EXPECT_NE(a0, a1);
  EXPECT_NE(a0, b0);
  // Seed 8's first epoch is not seed 7's second (what seeding with seed + epoch would give).
  EXPECT_NE(a1, b0);
}

TEST(DataLoader, EveryExampleIsServedOncePerEpoch) {
  DataLoader loader(numbered(23), batches_of(5, 1));
  for (int epoch = 0; epoch < 2; ++epoch) {
    auto order = epoch_order(loader);
    std::sort(order.begin(), order.end());
    Indices all(23);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    EXPECT_EQ(order, all);
  }
}

TEST(DataLoader, LastBatchIsSmallerOrDroppedWithDropLast) {
  DataLoader keep(numbered(10), batches_of(4));
  EXPECT_EQ(keep.batches_per_epoch(), 3u);
  keep.next_indices();
  keep.next_indices();
  EXPECT_EQ(keep.next_indices().size(), 2u);
  EXPECT_EQ(keep.epoch(), 1u);

  auto options = batches_of(4);
  options.drop_last = true;
  DataLoader drop(numbered(10), options);
  EXPECT_EQ(drop.batches_per_epoch(), 2u);
  drop.next_indices();
  EXPECT_EQ(drop.next_indices().size(), 4u);
  EXPECT_EQ(drop.epoch(), 1u);
  EXPECT_EQ(drop.state().index, 0u);
}

TEST(DataLoader, WithoutShuffleBatchesFollowDatasetOrder) {
  auto options = batches_of(3);
  options.shuffle = false;
  DataLoader loader(numbered(5), options);
  EXPECT_EQ(loader.next_indices(), (Indices{0, 1, 2}));
  EXPECT_EQ(loader.next_indices(), (Indices{3, 4}));
  EXPECT_EQ(loader.next_indices(), (Indices{0, 1, 2}));
}

TEST(DataLoader, BatchHoldsTheExamplesOfItsIndices) {
  auto options = batches_of(3);
  options.pad_id = 99;
  DataLoader loader(numbered(8), options);
  DataLoader twin(numbered(8), options);
  const auto indices = twin.next_indices();
  const auto batch = loader.next();
  ASSERT_EQ(batch.input_ids.sizes(), (at::IntArrayRef{3, 1}));
  for (std::size_t row = 0; row < indices.size(); ++row) {
    EXPECT_EQ(batch.input_ids[static_cast<std::int64_t>(row)][0].item<std::int64_t>(),
              static_cast<std::int64_t>(indices[row]));
    EXPECT_EQ(batch.source_indices[row], indices[row]);
  }
}

TEST(DataLoader, RestoredLoaderYieldsTheSameNextBatches) {
  DataLoader original(numbered(17), batches_of(4, 3));
  for (int i = 0; i < 6; ++i) original.next_indices();  // into the second epoch
  const auto saved = DataLoaderState::from_json(nlohmann::json::parse(original.state().to_json().dump()));

  DataLoader resumed(numbered(17), batches_of(4, 3));
  resumed.restore(saved);
  EXPECT_EQ(resumed.epoch(), 1u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(resumed.next_indices(), original.next_indices()) << "batch " << i;
}

TEST(DataLoader, RestoreWithAnotherBatchSizeNeitherSkipsNorRepeats) {
  DataLoader original(numbered(12), batches_of(4, 5));
  const auto whole_epoch = epoch_order(original);
  DataLoader first(numbered(12), batches_of(4, 5));
  first.next_indices();  // examples 0-3 of the order served
  DataLoader resumed(numbered(12), batches_of(3, 5));
  resumed.restore(first.state());
  EXPECT_EQ(epoch_order(resumed), Indices(whole_epoch.begin() + 4, whole_epoch.end()));
}

TEST(DataLoader, RestoreRejectsAnotherSeedOrDatasetSize) {
  DataLoader loader(numbered(10), batches_of(4, 1));
  auto state = loader.state();
  state.seed = 2;
  EXPECT_THROW(loader.restore(state), Error);
  state = loader.state();
  state.dataset_size = 11;
  EXPECT_THROW(loader.restore(state), Error);
  state = loader.state();
  state.index = 11;
  EXPECT_THROW(loader.restore(state), Error);
}

TEST(DataLoader, StateFromJsonNamesAMissingOrMistypedField) {
  try {
    DataLoaderState::from_json({{"epoch", 1}, {"index", 0}, {"seed", 0}, {"shuffle", true}});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'dataset_size'"), std::string::npos) << error.what();
  }
  EXPECT_THROW(
      DataLoaderState::from_json({{"epoch", -1}, {"index", 0}, {"seed", 0}, {"shuffle", true}, {"dataset_size", 3}}),
      Error);
}

TEST(DataLoader, DatasetWithoutABatchIsAnError) {
  EXPECT_THROW(DataLoader(numbered(0), batches_of(2)), Error);
  auto options = batches_of(4);
  options.drop_last = true;
  EXPECT_THROW(DataLoader(numbered(3), options), Error);
  EXPECT_THROW(DataLoader(numbered(3), batches_of(0)), Error);
}

TEST(SeededPermutation, EveryOrderOfThreeIsAboutEquallyLikely) {
  // 6000 seeds over the 6 orders: about 1000 each (standard deviation 29); a biased draw would show.
  std::map<std::vector<std::size_t>, int> counts;
  for (std::uint64_t seed = 0; seed < 6000; ++seed) ++counts[seeded_permutation(3, seed)];
  ASSERT_EQ(counts.size(), 6u);
  for (const auto& [order, count] : counts) {
    EXPECT_GT(count, 850);
    EXPECT_LT(count, 1150);
  }
}

TEST(FilterByTask, KeepsOnlyTheNamedTasksInDatasetOrder) {
  const auto odd = filter_by_task(numbered(7), {"odd"});
  EXPECT_EQ(odd->indices(), (Indices{1, 3, 5}));
  EXPECT_EQ(odd->example(2).input_ids, (std::vector<std::int64_t>{5}));
  EXPECT_EQ(filter_by_task(numbered(7), {"odd", "even"})->size(), 7u);
}

TEST(FilterByTask, UnknownTaskIsAnError) { EXPECT_THROW(filter_by_task(numbered(7), {"odd", "spam"}), Error); }

TEST(RandomSubset, IsSeededSortedAndWithoutRepeats) {
  const auto a = random_subset(numbered(100), 10, 42);
  const auto b = random_subset(numbered(100), 10, 42);
  const auto c = random_subset(numbered(100), 10, 43);
  EXPECT_EQ(a->indices(), b->indices());
  EXPECT_NE(a->indices(), c->indices());
  EXPECT_TRUE(std::is_sorted(a->indices().begin(), a->indices().end()));
  EXPECT_EQ(std::set<std::size_t>(a->indices().begin(), a->indices().end()).size(), 10u);
  EXPECT_THROW(random_subset(numbered(5), 6, 1), Error);
}

}  // namespace
}  // namespace ladle::text
