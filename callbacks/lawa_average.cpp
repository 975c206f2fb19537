#include "callbacks/lawa_average.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>

#include "callbacks/flat_average.h"
#include "lib/io/json_member.h"
#include "lib/log/log.h"
#include "lib/util/error.h"

namespace ladle::callbacks {
namespace {

// Elements per fp64 scratch chunk: 2 MiB of scratch, long enough runs for ATen's multithreaded kernels.
constexpr std::int64_t kMeanChunk = std::int64_t{1} << 18;

nlohmann::json options_json(const LawaOptions& options) {
  nlohmann::json json = {{"k", options.k},
          {"start_step", options.schedule.start_step},
          {"every", options.schedule.every},
          {"storage", snapshot_storage_name(options.storage)},
          {"buffers", buffer_mode_name(options.buffers)}};
  // Only a scheme other than sma is recorded, so a plain LAWA run's state is what it was before schemes existed.
  if (options.scheme.scheme != merge::SeriesScheme::sma) json["scheme"] = merge::series_weighting_name(options.scheme);
  return json;
}

std::unique_ptr<SnapshotRing> make_ring(const LawaOptions& options, const FlatParameters& live,
                                        const NamedTensors& live_buffers) {
  if (options.k < 1) throw Error("LAWA: k is " + std::to_string(options.k) + ", expected at least 1 snapshot");
  options.schedule.validate("LAWA");
  const auto capacity = static_cast<std::size_t>(options.k);
  if (options.storage == SnapshotStorage::memory) return std::make_unique<MemorySnapshotRing>(capacity, live, live_buffers);
  if (options.directory.empty()) throw Error("LAWA: snapshots on disk need a directory (LawaOptions::directory)");
  return std::make_unique<DiskSnapshotRing>(capacity, live, live_buffers, options.directory);
}

// Checks that every source has `result`'s size, for mean_of_flat and weighted_sum_of_flat.
void require_flat_sizes(const char* op, const std::vector<at::Tensor>& sources, const at::Tensor& result) {
  if (sources.empty()) throw Error(std::string(op) + ": no tensors to combine");
  for (const auto& source : sources) {
    if (source.numel() != result.numel()) {
      throw Error(std::string(op) + ": a source holds " + std::to_string(source.numel()) + " elements, the result " +
                  std::to_string(result.numel()));
    }
  }
}

// Calls combine(begin, length, scratch) for each chunk of [0, numel), scratch an fp64 tensor of `length` elements.
template <class Combine>
void for_each_fp64_chunk(const at::Tensor& result, Combine combine) {
  at::NoGradGuard no_grad;
  const std::int64_t numel = result.numel();
  at::Tensor scratch = at::empty({std::min(numel, kMeanChunk)}, result.options().dtype(at::kDouble));
  for (std::int64_t begin = 0; begin < numel; begin += kMeanChunk) {
    const std::int64_t length = std::min(kMeanChunk, numel - begin);
    combine(begin, length, scratch.narrow(0, 0, length));
  }
}

}  // namespace

std::string snapshot_storage_name(SnapshotStorage storage) {
  return storage == SnapshotStorage::memory ? "memory" : "disk";
}

void mean_of_flat(const std::vector<at::Tensor>& sources, at::Tensor& mean) {
  require_flat_sizes("mean_of_flat", sources, mean);
  const auto count = static_cast<double>(sources.size());
  for_each_fp64_chunk(mean, [&](std::int64_t begin, std::int64_t length, at::Tensor sum) {
    sum.copy_(sources[0].narrow(0, begin, length));
    for (std::size_t s = 1; s < sources.size(); ++s) sum.add_(sources[s].narrow(0, begin, length));
    mean.narrow(0, begin, length).copy_(sum.div_(count));
  });
}

void weighted_sum_of_flat(const std::vector<at::Tensor>& sources, const std::vector<double>& weights,
                          at::Tensor& sum) {
  require_flat_sizes("weighted_sum_of_flat", sources, sum);
  if (weights.size() != sources.size()) {
    throw Error("weighted_sum_of_flat: " + std::to_string(sources.size()) + " sources but " +
                std::to_string(weights.size()) + " weights");
  }
  for_each_fp64_chunk(sum, [&](std::int64_t begin, std::int64_t length, at::Tensor total) {
    total.copy_(sources[0].narrow(0, begin, length));
    if (weights[0] != 1.0) total.mul_(weights[0]);
    for (std::size_t s = 1; s < sources.size(); ++s) {
      total.add_(sources[s].narrow(0, begin, length).to(at::kDouble), weights[s]);
    }
    sum.narrow(0, begin, length).copy_(total);
  });
}

LawaAverage::LawaAverage(const FlatParameters& live, NamedTensors live_buffers, LawaOptions options)
    : WeightAverage(live, std::move(live_buffers)),
      options_(std::move(options)),
      ring_(make_ring(options_, live_, live_buffers_)) {
  average_ = empty_flat_like(live_, /*accumulate=*/true);
  buffer_average_ = make_buffer_storage(live_buffers_);
}

bool LawaAverage::on_optimizer_step(std::int64_t step) {
  if (!options_.schedule.due(step)) return false;
  update(step);
  return true;
}

void LawaAverage::update(std::int64_t step) {
  ring_->push(step);
  stale_ = true;
}

// The snapshots' combination into `result`: their mean (sma, unchanged from plain LAWA) or the scheme's weighted sum.
void LawaAverage::combine(const std::vector<at::Tensor>& sources, at::Tensor& result) const {
  if (options_.scheme.scheme == merge::SeriesScheme::sma) {
    mean_of_flat(sources, result);
  } else {
    weighted_sum_of_flat(sources, merge::series_weights(options_.scheme, sources.size()), result);
  }
}

void LawaAverage::compute_average() {
  std::vector<WeightSnapshot> snapshots;
  for (std::size_t i = 0; i < ring_->size(); ++i) snapshots.push_back(ring_->snapshot(i));
  if (static_cast<std::int64_t>(snapshots.size()) < options_.k) {
    LADLE_LOG(info) << "lawa: averaging the " << snapshots.size() << " snapshot(s) taken so far, fewer than k = "
                    << options_.k;
  }
  for (std::size_t g = 0; g < average_.size(); ++g) {
    std::vector<at::Tensor> sources;
    for (const auto& snapshot : snapshots) sources.push_back(snapshot.values[g]);
    combine(sources, average_[g]);
  }
  at::NoGradGuard no_grad;
  for (auto& [name, stored] : buffer_average_) {
    if (options_.buffers == BufferMode::copy || !at::isFloatingType(stored.scalar_type())) {
      stored.copy_(snapshots.back().buffers.at(name));
      continue;
    }
    std::vector<at::Tensor> sources;
    for (const auto& snapshot : snapshots) sources.push_back(snapshot.buffers.at(name).reshape(-1));
    at::Tensor flat = stored.view(-1);
    combine(sources, flat);
  }
  stale_ = false;
}

std::vector<at::Tensor> LawaAverage::averaged_flat_values() {
  require_average("averaged_flat_values");
  if (stale_) compute_average();
  return average_;
}

NamedTensors LawaAverage::averaged_buffers() {
  require_average("averaged_buffers");
  if (stale_) compute_average();
  return buffer_average_;
}

AveragingState LawaAverage::state() {
  AveragingState state = ring_->state();
  state.info["kind"] = name();
  state.info["options"] = options_json(options_);
  return state;
}

void LawaAverage::load_state(const AveragingState& state) {
  require_kind(state);
  const auto storage = state.info.contains("options")
                           ? io::json_member<std::string>(state.info.at("options"), "storage")
                           : std::optional<std::string>(snapshot_storage_name(options_.storage));
  if (storage != snapshot_storage_name(options_.storage)) {
    throw Error("LAWA state: the checkpoint kept its snapshots in " + storage.value_or("?") +
                ", this average keeps them in " + snapshot_storage_name(options_.storage));
  }
  ring_->load_state(state);
  stale_ = true;
  if (state.info.contains("options") && state.info.at("options") != options_json(options_)) {
    LADLE_LOG(warning) << "LAWA: resuming with options " << options_json(options_).dump()
                       << " that differ from the checkpoint's " << state.info.at("options").dump();
  }
}

}  // namespace ladle::callbacks
