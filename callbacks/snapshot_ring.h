// SnapshotRing: the k latest snapshots of a model's weights, first in first out, that LAWA averages; held in memory
// or as a ring of safetensors files on disk (for models that do not fit k times in memory). Both store the live
// values exactly (in the live dtype), so both give the same average.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "callbacks/flat_average.h"
#include "callbacks/weight_average.h"
#include "lib/weights/flat_parameters.h"
#include "lib/weights/named_tensors.h"

namespace ladle::callbacks {

// One snapshot: the live groups' flat values (FlatParameters::groups() order, live dtype) and the buffers.
struct WeightSnapshot {
  std::int64_t step = 0;
  std::vector<at::Tensor> values;
  NamedTensors buffers;
};

class SnapshotRing {
 public:
  // Snapshots of `live` (which must outlive the ring) and of the buffers `live_buffers` aliases; capacity ≥ 1.
  SnapshotRing(std::size_t capacity, const FlatParameters& live, NamedTensors live_buffers);
  virtual ~SnapshotRing() = default;
  SnapshotRing(const SnapshotRing&) = delete;
  SnapshotRing& operator=(const SnapshotRing&) = delete;

  // Stores the live weights as the newest snapshot, dropping the oldest when the ring is full.
  virtual void push(std::int64_t step) = 0;
  // Snapshot `index`, 0 = the oldest. Tensors may be read-only views (memory maps): do not modify them.
  virtual WeightSnapshot snapshot(std::size_t index) const = 0;
  virtual std::size_t size() const = 0;
  // The snapshots' steps, oldest first.
  virtual std::vector<std::int64_t> steps() const = 0;

  // Checkpoint state: the snapshots themselves (memory) or the files holding them (disk).
  virtual AveragingState state() = 0;
  // Restores state(); throws ladle::Error naming what is missing or does not match the live weights.
  virtual void load_state(const AveragingState& state) = 0;

  std::size_t capacity() const { return capacity_; }

 protected:
  std::size_t capacity_;
  const FlatParameters& live_;
  FlatLayout layout_;
  NamedTensors live_buffers_;
};

class MemorySnapshotRing : public SnapshotRing {
 public:
  using SnapshotRing::SnapshotRing;

  // Reuses the evicted snapshot's memory once the ring is full: one copy pass, no allocation.
  void push(std::int64_t step) override;
  WeightSnapshot snapshot(std::size_t index) const override { return snapshots_.at(index); }
  std::size_t size() const override { return snapshots_.size(); }
  std::vector<std::int64_t> steps() const override;
  // Tensors "snapshot.<i>.<parameter>" and "snapshot.<i>.buffer.<buffer>" (i = 0 the oldest); info "steps".
  AveragingState state() override;
  void load_state(const AveragingState& state) override;

 private:
  std::deque<WeightSnapshot> snapshots_;
};

// Each snapshot is one file <directory>/lawa-step-<step>.safetensors (tensors "values.<group>" and
// "buffer.<name>", metadata "step"), written atomically. A file leaves the ring when a newer snapshot evicts it,
// but is deleted only once no checkpoint state still names it: state() pins the ring's files until the next
// state(), so a run resumed from its latest checkpoint finds every snapshot it needs. Reading a snapshot maps its
// file (page cache, no copy).
class DiskSnapshotRing : public SnapshotRing {
 public:
  // Creates `directory` if needed. Files of an earlier run in it are left alone until load_state() adopts them.
  DiskSnapshotRing(std::size_t capacity, const FlatParameters& live, NamedTensors live_buffers,
                   std::filesystem::path directory);

  void push(std::int64_t step) override;
  WeightSnapshot snapshot(std::size_t index) const override;
  std::size_t size() const override { return files_.size(); }
  std::vector<std::int64_t> steps() const override;
  // No tensors; info "files": [{"step": S, "file": NAME}, ...] oldest first, and "directory".
  AveragingState state() override;
  // Checks that every file the state names exists, holds its step and matches `live`, then deletes the other
  // lawa-step-*.safetensors files in the directory (snapshots the interrupted run took after the checkpoint).
  void load_state(const AveragingState& state) override;

  const std::filesystem::path& directory() const { return directory_; }
  // The file of a snapshot taken at `step`.
  std::filesystem::path file_for(std::int64_t step) const;

 private:
  struct Entry {
    std::int64_t step;
    std::filesystem::path path;
  };
  // The snapshot in the entry's file, checked against the live layout.
  WeightSnapshot read(const Entry& entry) const;
  // Deletes the file unless the ring or the pinned set still needs it.
  void release(const std::filesystem::path& path);

  std::filesystem::path directory_;
  std::deque<Entry> files_;
  std::set<std::filesystem::path> pinned_;  // files named by the latest state()
};

}  // namespace ladle::callbacks
