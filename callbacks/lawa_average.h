// LawaAverage: latest weight averaging, the uniform average of the k latest snapshots of the weights taken every
// `interval` optimizer steps, first in first out (Kaddour, "Stop Wasting My Time! Saving Days of ImageNet and BERT
// Training with Latest Weight Averaging", 2022: k = 10 at epoch ends; Sanyal et al., "Early Weight Averaging meets
// High Learning Rates for LLM Pre-training", 2023: k = 5, widely spaced).
//
// The average is recomputed from the k snapshots when it is read (evaluation, saving), not kept as a running sum:
// adding the newest and subtracting the evicted snapshot would accumulate rounding error in fp32 over a long run,
// and the disk ring would have to read the evicted file back each time. Each element is summed over the snapshots
// in fp64 (oldest first) and divided by k once, then rounded to fp32, so the result depends only on which snapshots
// are held: memory and disk rings give identical averages, and a resumed run matches an uninterrupted one. It
// costs k reads of the model per evaluation instead of one write per step; an update is one copy of the live
// weights (into memory or into a file).
//
// The snapshots may instead be weighted by a checkpoint-series scheme (lib/merge/checkpoint_series_weights.h: PMA's
// EMA and WMA, WSM's decay emulation), applied to the snapshots held, oldest first: sum_s w_s snapshot_s summed in
// fp64 and rounded once, as `ladle merge-checkpoints` computes it over checkpoints taken at the same steps. sma (the
// default) is the mean above, computed as before.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "callbacks/snapshot_ring.h"
#include "callbacks/weight_average.h"
#include "lib/merge/checkpoint_series_weights.h"

namespace ladle::callbacks {

enum class SnapshotStorage {
  memory,  // k copies of the trainable weights in memory, on the model's device
  disk,    // k safetensors files in LawaOptions::directory (read through memory maps when averaging)
};

// "memory" or "disk".
std::string snapshot_storage_name(SnapshotStorage storage);

struct LawaOptions {
  std::int64_t k = 10;            // snapshots averaged (Kaddour 2022: 10; Sanyal et al. 2023: 5); ≥ 1
  StepSchedule schedule;          // when snapshots are taken: set every = the interval between them
  SnapshotStorage storage = SnapshotStorage::memory;
  std::filesystem::path directory;  // where the disk ring keeps its files (required for disk)
  BufferMode buffers = BufferMode::average;  // buffers averaged over the snapshots, or the newest snapshot's
  merge::SeriesWeighting scheme;             // how the snapshots are weighted (default sma: uniform, Kaddour 2022)
};

class LawaAverage : public WeightAverage {
 public:
  // Throws ladle::Error for k < 1, an invalid schedule, or disk storage without a directory.
  LawaAverage(const FlatParameters& live, NamedTensors live_buffers, LawaOptions options = {});

  std::string name() const override { return "lawa"; }
  bool on_optimizer_step(std::int64_t step) override;
  // Takes a snapshot of the live weights (evicting the oldest once k are held).
  void update(std::int64_t step) override;
  std::int64_t count() const override { return static_cast<std::int64_t>(ring_->size()); }
  // The mean of the held snapshots, computed on first read after a snapshot and kept until the next one.
  std::vector<at::Tensor> averaged_flat_values() override;
  NamedTensors averaged_buffers() override;
  // info "steps" (and the ring's file list on disk); tensors: the snapshots when they are in memory.
  AveragingState state() override;
  void load_state(const AveragingState& state) override;

  const LawaOptions& options() const { return options_; }
  const StepSchedule& schedule() const override { return options_.schedule; }
  // The steps of the snapshots held, oldest first.
  std::vector<std::int64_t> snapshot_steps() const { return ring_->steps(); }

 private:
  void compute_average();
  void combine(const std::vector<at::Tensor>& sources, at::Tensor& result) const;

  LawaOptions options_;
  std::unique_ptr<SnapshotRing> ring_;
  std::vector<at::Tensor> average_;  // the mean of the ring, fp32 (fp64 for fp64 groups), valid when !stale_
  NamedTensors buffer_average_;
  bool stale_ = true;
};

// mean[i] = (Σₛ sources[s][i]) / n over n same-sized flat tensors, summed in fp64 in order and rounded once into
// `mean` (any floating dtype), chunk by chunk so the fp64 scratch stays small.
void mean_of_flat(const std::vector<at::Tensor>& sources, at::Tensor& mean);
// sum[i] = Σₛ weights[s] sources[s][i], summed in fp64 in order (the first term scaled, then each added with its
// weight, as lib/weights/tensor_ops.h weighted_sum does) and rounded once into `sum`, chunk by chunk.
void weighted_sum_of_flat(const std::vector<at::Tensor>& sources, const std::vector<double>& weights, at::Tensor& sum);

}  // namespace ladle::callbacks
