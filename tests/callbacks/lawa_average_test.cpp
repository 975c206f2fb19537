// LawaAverage: the mean of exactly the k latest snapshots, the disk ring against the memory ring, exact resume
// from either, and the fp64 summation of the mean.
#include "callbacks/lawa_average.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <filesystem>

#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;
using ladle::testing::floats;

struct LayerWithBufferImpl : torch::nn::Module {
  LayerWithBufferImpl()
      : fc(register_module("fc", torch::nn::Linear(5, 3))), running(register_buffer("running", at::zeros({3}))) {}
  torch::nn::Linear fc;
  at::Tensor running;
};
TORCH_MODULE(LayerWithBuffer);

void set_all(const FlatParameters& live, LayerWithBuffer& model, float value) {
  at::NoGradGuard no_grad;
  live.groups().at(0).values.fill_(value);
  model->running.fill_(value);
}

// Step k's values: irregular, so that summation order and rounding would show.
void set_step_values(const FlatParameters& live, LayerWithBuffer& model, std::int64_t k) {
  at::NoGradGuard no_grad;
  const at::Tensor& values = live.groups().at(0).values;
  values.copy_(at::sin(at::arange(values.numel(), at::kFloat) * 0.7 + static_cast<double>(k)) * 1e3 + 0.1 * k);
  model->running.copy_(values.narrow(0, 0, 3));
}

std::size_t snapshot_files(const std::string& dir) {
  std::size_t count = 0;
  for (const auto& item : std::filesystem::directory_iterator(dir)) count += item.path().extension() == ".safetensors";
  return count;
}

LawaOptions lawa_options(std::int64_t k, std::int64_t every, SnapshotStorage storage = SnapshotStorage::memory,
                         const std::string& directory = "") {
  LawaOptions options;
  options.k = k;
  options.schedule.every = every;
  options.storage = storage;
  options.directory = directory;
  return options;
}

// k = 3 snapshots every 2 steps; the live weights equal the step at even steps and 1000 at odd steps (never
// snapshotted). After step 4 the snapshots are {2, 4}; after step 11 they are {6, 8, 10}.
TEST(LawaAverage, AveragesExactlyTheKLatestSnapshots) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  LawaAverage lawa(live, module_buffers(*model), lawa_options(3, 2));
  for (std::int64_t step = 1; step <= 11; ++step) {
    set_all(live, model, step % 2 == 0 ? static_cast<float>(step) : 1000.0f);
    lawa.on_optimizer_step(step);
    if (step == 4) {
      EXPECT_EQ(lawa.snapshot_steps(), (std::vector<std::int64_t>{2, 4}));
      EXPECT_TRUE(at::equal(lawa.averaged_flat_values()[0], at::full({18}, 3.0f)));
    }
  }
  EXPECT_EQ(lawa.snapshot_steps(), (std::vector<std::int64_t>{6, 8, 10}));
  EXPECT_EQ(lawa.count(), 3);
  EXPECT_TRUE(at::equal(lawa.averaged_flat_values()[0], at::full({18}, 8.0f)));
  EXPECT_TRUE(at::equal(lawa.averaged_buffers().at("running"), at::full({3}, 8.0f)));
  EXPECT_TRUE(at::equal(lawa.averaged_weights().at("fc.bias"), at::full({3}, 8.0f)));
}

TEST(LawaAverage, DiskRingEqualsMemoryRingAndKeepsKFiles) {
  const std::string dir = ladle::testing::make_temp_dir("lawa-disk");
  LayerWithBuffer model;
  FlatParameters live(*model);
  LawaAverage memory(live, module_buffers(*model), lawa_options(4, 3));
  LawaAverage disk(live, module_buffers(*model), lawa_options(4, 3, SnapshotStorage::disk, dir));
  for (std::int64_t step = 1; step <= 40; ++step) {
    set_step_values(live, model, step);
    memory.on_optimizer_step(step);
    disk.on_optimizer_step(step);
    if (step % 9 == 0) {
      EXPECT_TRUE(at::equal(disk.averaged_flat_values()[0], memory.averaged_flat_values()[0])) << "step " << step;
      EXPECT_TRUE(at::equal(disk.averaged_buffers().at("running"), memory.averaged_buffers().at("running")));
    }
  }
  EXPECT_EQ(disk.snapshot_steps(), (std::vector<std::int64_t>{30, 33, 36, 39}));
  EXPECT_TRUE(at::equal(disk.averaged_flat_values()[0], memory.averaged_flat_values()[0]));
  EXPECT_EQ(snapshot_files(dir), 4u);
  std::filesystem::remove_all(dir);
}

// 2N steps straight equal N steps, the state, a fresh average restored from it, and N more steps; for both rings.
TEST(LawaAverage, StateRoundTripContinuesBitIdenticallyInMemoryAndOnDisk) {
  const std::string dir = ladle::testing::make_temp_dir("lawa-resume");
  LayerWithBuffer model;
  FlatParameters live(*model);
  LawaAverage straight(live, module_buffers(*model), lawa_options(3, 2));
  for (std::int64_t step = 1; step <= 30; ++step) {
    set_step_values(live, model, step);
    straight.on_optimizer_step(step);
  }
  for (const SnapshotStorage storage : {SnapshotStorage::memory, SnapshotStorage::disk}) {
    const LawaOptions options = lawa_options(3, 2, storage, dir + "/" + snapshot_storage_name(storage));
    auto first = std::make_unique<LawaAverage>(live, module_buffers(*model), options);
    for (std::int64_t step = 1; step <= 15; ++step) {
      set_step_values(live, model, step);
      first->on_optimizer_step(step);
    }
    AveragingState saved = first->state();
    for (auto& [name, tensor] : saved.tensors) tensor = tensor.clone();
    saved.info = nlohmann::json::parse(saved.info.dump());
    first.reset();
    LawaAverage resumed(live, module_buffers(*model), options);
    resumed.load_state(saved);
    for (std::int64_t step = 16; step <= 30; ++step) {
      set_step_values(live, model, step);
      resumed.on_optimizer_step(step);
    }
    EXPECT_EQ(resumed.snapshot_steps(), straight.snapshot_steps());
    EXPECT_TRUE(at::equal(resumed.averaged_flat_values()[0], straight.averaged_flat_values()[0]))
        << snapshot_storage_name(storage);
  }
  std::filesystem::remove_all(dir);
}

// A crash after the checkpoint: the ring moved on (evicting files the checkpoint names), and the resumed run
// must still find them; the files the lost steps wrote are removed on resume.
TEST(LawaAverage, DiskRingKeepsTheCheckpointedFilesUntilTheNextState) {
  const std::string dir = ladle::testing::make_temp_dir("lawa-pinned");
  LayerWithBuffer model;
  FlatParameters live(*model);
  const LawaOptions options = lawa_options(2, 1, SnapshotStorage::disk, dir);
  LawaAverage reference(live, module_buffers(*model), lawa_options(2, 1));
  AveragingState saved;
  {
    LawaAverage crashed(live, module_buffers(*model), options);
    for (std::int64_t step = 1; step <= 6; ++step) {
      set_step_values(live, model, step);
      crashed.on_optimizer_step(step);
      if (step <= 4) reference.on_optimizer_step(step);
      if (step == 4) saved = crashed.state();  // names steps 3 and 4
    }
    EXPECT_EQ(snapshot_files(dir), 4u);  // 5 and 6 in the ring, 3 and 4 pinned by the state
  }
  LawaAverage resumed(live, module_buffers(*model), options);
  resumed.load_state(saved);
  EXPECT_EQ(resumed.snapshot_steps(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(snapshot_files(dir), 2u);
  EXPECT_TRUE(at::equal(resumed.averaged_flat_values()[0], reference.averaged_flat_values()[0]));
  std::filesystem::remove_all(dir);
}

TEST(LawaAverage, DiskStateWithAMissingFileNamesIt) {
  const std::string dir = ladle::testing::make_temp_dir("lawa-missing");
  LayerWithBuffer model;
  FlatParameters live(*model);
  LawaAverage lawa(live, {}, lawa_options(2, 1, SnapshotStorage::disk, dir));
  AveragingState state;
  state.info = {{"kind", "lawa"}, {"steps", {7}}};
  EXPECT_TRUE(contains(error_message([&] { lawa.load_state(state); }), "snapshot of step 7"));
  std::filesystem::remove_all(dir);
}

TEST(LawaAverage, DiskStorageNeedsADirectory) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  EXPECT_TRUE(contains(error_message([&] { LawaAverage(live, {}, lawa_options(2, 1, SnapshotStorage::disk)); }),
                       "need a directory"));
}

// wma over the snapshots {6, 8, 10} (values = the step): (1*6 + 2*8 + 3*10) / 6 = 52/6; ema:0.5 weights 1/7, 2/7,
// 4/7: (6 + 16 + 40) / 7 = 62/7. Early on, the scheme weights the snapshots held: {2, 4} under wma is (2 + 8) / 3.
TEST(LawaAverage, WeightsTheSnapshotsByItsScheme) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  LawaOptions wma_options = lawa_options(3, 2);
  wma_options.scheme = merge::parse_series_weighting("wma");
  LawaOptions ema_options = lawa_options(3, 2);
  ema_options.scheme = merge::parse_series_weighting("ema:0.5");
  LawaAverage wma(live, module_buffers(*model), wma_options);
  LawaAverage ema(live, module_buffers(*model), ema_options);
  for (std::int64_t step = 1; step <= 11; ++step) {
    set_all(live, model, step % 2 == 0 ? static_cast<float>(step) : 1000.0f);
    wma.on_optimizer_step(step);
    ema.on_optimizer_step(step);
    if (step == 4) {
      EXPECT_FLOAT_EQ(wma.averaged_flat_values()[0][0].item<float>(), 10.0f / 3);
    }
  }
  EXPECT_TRUE(at::allclose(wma.averaged_flat_values()[0], at::full({18}, 52.0f / 6), 1e-6, 0));
  EXPECT_TRUE(at::allclose(wma.averaged_buffers().at("running"), at::full({3}, 52.0f / 6), 1e-6, 0));
  EXPECT_TRUE(at::allclose(ema.averaged_flat_values()[0], at::full({18}, 62.0f / 7), 1e-6, 0));
}

// A plain LAWA state does not mention the scheme (checkpoints written before schemes resume without a warning);
// another scheme is recorded.
TEST(LawaAverage, StateRecordsASchemeOtherThanSma) {
  LayerWithBuffer model;
  FlatParameters live(*model);
  LawaAverage plain(live, {}, lawa_options(2, 1));
  EXPECT_FALSE(plain.state().info.at("options").contains("scheme"));
  LawaOptions options = lawa_options(2, 1);
  options.scheme = merge::parse_series_weighting("wsm:cosine");
  LawaAverage weighted(live, {}, options);
  EXPECT_EQ(weighted.state().info.at("options").at("scheme"), "wsm:cosine");
}

// In fp32, 1e8 + 1 rounds back to 1e8 and the sum below would be 0; summed in fp64 it is exactly 1.
TEST(MeanOfFlat, SumsInFp64AndRoundsOnce) {
  at::Tensor mean = at::empty({1}, at::kFloat);
  mean_of_flat({floats({1e8f}), floats({1.0f}), floats({-1e8f})}, mean);
  EXPECT_EQ(mean.item<float>(), static_cast<float>(1.0 / 3.0));
}

TEST(WeightedSumOfFlat, SumsInFp64AndRoundsOnce) {
  at::Tensor sum = at::empty({1}, at::kFloat);
  weighted_sum_of_flat({floats({1e8f}), floats({1.0f}), floats({-1e8f})}, {0.5, 0.25, 0.5}, sum);
  EXPECT_EQ(sum.item<float>(), 0.25f);
}

}  // namespace
}  // namespace ladle::callbacks
