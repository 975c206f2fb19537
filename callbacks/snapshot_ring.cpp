#include "callbacks/snapshot_ring.h"

#include <ATen/ATen.h>

#include <cstdio>
#include <string_view>
#include <system_error>

#include "callbacks/flat_average.h"
#include "lib/io/safetensors_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::callbacks {
namespace {

constexpr const char* kFilePrefix = "lawa-step-";
constexpr const char* kFileSuffix = ".safetensors";

// Fresh tensors shaped like the live buffers, in their dtypes.
NamedTensors empty_buffers_like(const NamedTensors& live_buffers) {
  NamedTensors buffers;
  for (const auto& [name, buffer] : live_buffers) buffers.insert(name, at::empty_like(buffer));
  return buffers;
}

std::vector<std::int64_t> json_steps(const nlohmann::json& info, const std::string& owner) {
  const auto steps = info.find("steps");
  if (steps == info.end() || !steps->is_array()) throw Error(owner + ": the state has no 'steps' list");
  std::vector<std::int64_t> result;
  for (const auto& step : *steps) {
    if (!step.is_number_integer()) throw Error(owner + ": the state's 'steps' holds a non-integer " + step.dump());
    result.push_back(step.get<std::int64_t>());
  }
  return result;
}

bool is_snapshot_file(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return name.size() > std::string_view(kFilePrefix).size() + std::string_view(kFileSuffix).size() &&
         starts_with(name, kFilePrefix) && ends_with(name, kFileSuffix);
}

}  // namespace

SnapshotRing::SnapshotRing(std::size_t capacity, const FlatParameters& live, NamedTensors live_buffers)
    : capacity_(capacity), live_(live), layout_(layout_of(live)), live_buffers_(std::move(live_buffers)) {
  if (capacity_ < 1) throw Error("LAWA: the number of snapshots to average is 0, expected at least 1");
}

// ---- In memory ----

void MemorySnapshotRing::push(std::int64_t step) {
  WeightSnapshot snapshot;
  if (snapshots_.size() == capacity_) {
    snapshot = std::move(snapshots_.front());
    snapshots_.pop_front();
  } else {
    snapshot.values = empty_flat_like(live_, /*accumulate=*/false);
    snapshot.buffers = empty_buffers_like(live_buffers_);
  }
  snapshot.step = step;
  copy_live_values_into(live_, snapshot.values);
  copy_buffers(snapshot.buffers, live_buffers_);
  snapshots_.push_back(std::move(snapshot));
}

std::vector<std::int64_t> MemorySnapshotRing::steps() const {
  std::vector<std::int64_t> steps;
  for (const auto& snapshot : snapshots_) steps.push_back(snapshot.step);
  return steps;
}

AveragingState MemorySnapshotRing::state() {
  AveragingState state;
  state.info["steps"] = steps();
  for (std::size_t i = 0; i < snapshots_.size(); ++i) {
    const std::string prefix = "snapshot." + std::to_string(i) + ".";
    for (const auto& [name, tensor] : named_flat_views(layout_, snapshots_[i].values, prefix)) {
      state.tensors.insert(name, tensor);
    }
    for (const auto& [name, tensor] : prefixed(snapshots_[i].buffers, prefix + "buffer.")) {
      state.tensors.insert(name, tensor);
    }
  }
  return state;
}

void MemorySnapshotRing::load_state(const AveragingState& state) {
  const std::vector<std::int64_t> steps = json_steps(state.info, "LAWA state");
  if (steps.size() > capacity_) {
    throw Error("LAWA state: it holds " + std::to_string(steps.size()) + " snapshots, more than the " +
                std::to_string(capacity_) + " this average keeps");
  }
  std::deque<WeightSnapshot> loaded;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string prefix = "snapshot." + std::to_string(i) + ".";
    WeightSnapshot snapshot{steps[i], empty_flat_like(live_, /*accumulate=*/false), empty_buffers_like(live_buffers_)};
    load_named_flat(layout_, snapshot.values, state.tensors, prefix, "LAWA state");
    load_prefixed(snapshot.buffers, state.tensors, prefix + "buffer.", "LAWA state");
    loaded.push_back(std::move(snapshot));
  }
  snapshots_ = std::move(loaded);
}

// ---- On disk ----

DiskSnapshotRing::DiskSnapshotRing(std::size_t capacity, const FlatParameters& live, NamedTensors live_buffers,
                                   std::filesystem::path directory)
    : SnapshotRing(capacity, live, std::move(live_buffers)), directory_(std::move(directory)) {
  if (directory_.empty()) throw Error("LAWA: snapshots on disk need a directory");
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error) throw Error("LAWA: cannot create the snapshot directory " + directory_.string() + ": " + error.message());
}

std::filesystem::path DiskSnapshotRing::file_for(std::int64_t step) const {
  char name[64];
  std::snprintf(name, sizeof name, "%s%08lld%s", kFilePrefix, static_cast<long long>(step), kFileSuffix);
  return directory_ / name;
}

void DiskSnapshotRing::push(std::int64_t step) {
  NamedTensors tensors;
  for (std::size_t g = 0; g < live_.groups().size(); ++g) {
    tensors.insert("values." + std::to_string(g), live_.groups()[g].values);
  }
  for (const auto& [name, buffer] : prefixed(live_buffers_, "buffer.")) tensors.insert(name, buffer);
  const std::filesystem::path path = file_for(step);
  io::write_safetensors(path, tensors, {{"step", std::to_string(step)}});
  files_.push_back({step, path});
  if (files_.size() > capacity_) {
    const std::filesystem::path evicted = files_.front().path;
    files_.pop_front();
    release(evicted);
  }
}

void DiskSnapshotRing::release(const std::filesystem::path& path) {
  if (pinned_.count(path) != 0) return;
  for (const auto& entry : files_) {
    if (entry.path == path) return;
  }
  std::error_code ignored;  // a file someone already removed needs no removing
  std::filesystem::remove(path, ignored);
}

WeightSnapshot DiskSnapshotRing::snapshot(std::size_t index) const { return read(files_.at(index)); }

WeightSnapshot DiskSnapshotRing::read(const Entry& entry) const {
  const io::SafetensorsReader reader(entry.path);
  WeightSnapshot snapshot;
  snapshot.step = entry.step;
  for (std::size_t g = 0; g < layout_.size(); ++g) {
    const auto& group = layout_[g];
    const at::Tensor values = reader.tensor("values." + std::to_string(g));
    const std::int64_t numel = group.slots.empty() ? 0 : group.slots.back().offset + group.slots.back().numel;
    if (values.dim() != 1 || values.numel() != numel || values.scalar_type() != group.dtype) {
      throw Error("LAWA: snapshot " + entry.path.string() + " holds values." + std::to_string(g) +
                  " that do not match the model's parameter group " + std::to_string(g) + " (" +
                  std::to_string(numel) + " " + c10::toString(group.dtype) + " values)");
    }
    snapshot.values.push_back(values.to(group.device));
  }
  for (const auto& [name, buffer] : live_buffers_) {
    const at::Tensor stored = reader.tensor("buffer." + name);
    if (!stored.sizes().equals(buffer.sizes())) {
      throw Error("LAWA: snapshot " + entry.path.string() + " holds buffer '" + name + "' of another shape");
    }
    snapshot.buffers.insert(name, stored.to(buffer.device()));
  }
  return snapshot;
}

std::vector<std::int64_t> DiskSnapshotRing::steps() const {
  std::vector<std::int64_t> steps;
  for (const auto& entry : files_) steps.push_back(entry.step);
  return steps;
}

AveragingState DiskSnapshotRing::state() {
  AveragingState state;
  state.info["directory"] = directory_.string();
  state.info["files"] = nlohmann::json::array();
  state.info["steps"] = steps();
  for (const auto& entry : files_) {
    state.info["files"].push_back({{"step", entry.step}, {"file", entry.path.filename().string()}});
  }
  // The ring's files are what this state needs; files pinned by the previous state that have left the ring since
  // are needed no more.
  std::set<std::filesystem::path> previously_pinned = std::move(pinned_);
  pinned_.clear();
  for (const auto& entry : files_) pinned_.insert(entry.path);
  for (const auto& path : previously_pinned) release(path);
  return state;
}

void DiskSnapshotRing::load_state(const AveragingState& state) {
  const std::vector<std::int64_t> steps = json_steps(state.info, "LAWA state");
  if (steps.size() > capacity_) {
    throw Error("LAWA state: it holds " + std::to_string(steps.size()) + " snapshots, more than the " +
                std::to_string(capacity_) + " this average keeps");
  }
  std::deque<Entry> loaded;
  for (const std::int64_t step : steps) {
    const std::filesystem::path path = file_for(step);
    if (!std::filesystem::exists(path)) {
      throw Error("LAWA state: the snapshot of step " + std::to_string(step) + " (" + path.string() +
                  ") is missing; LAWA's disk ring keeps the files of the latest checkpoint only, so resume from that "
                  "one");
    }
    const io::SafetensorsReader reader(path);
    const auto stored_step = reader.metadata().find("step");
    if (stored_step == reader.metadata().end() || stored_step->second != std::to_string(step)) {
      throw Error("LAWA state: " + path.string() + " does not hold the snapshot of step " + std::to_string(step));
    }
    loaded.push_back({step, path});
    read(loaded.back());  // checks the file against the model
  }
  files_ = std::move(loaded);
  pinned_.clear();
  for (const auto& entry : files_) pinned_.insert(entry.path);
  for (const auto& item : std::filesystem::directory_iterator(directory_)) {
    if (is_snapshot_file(item.path()) && pinned_.count(item.path()) == 0) {
      std::error_code ignored;
      std::filesystem::remove(item.path(), ignored);
    }
  }
}

}  // namespace ladle::callbacks
