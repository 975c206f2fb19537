#include "lib/merge/merge_executor.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "lib/io/checkpoint_writer.h"
#include "lib/io/safetensors_writer.h"
#include "lib/io/torch_dtype.h"
#include "lib/log/log.h"
#include "lib/merge/methods/magnitude_threshold.h"
#include "lib/merge/methods/method_support.h"
#include "lib/util/error.h"
#include "lib/util/huge_page_allocator.h"
#include "lib/util/human_format.h"
#include "lib/util/malloc_tuning.h"
#include "lib/util/progress_line.h"
#include "lib/util/shape_text.h"
#include "lib/util/splitmix64.h"
#include "lib/util/threads.h"
#include "lib/weights/nonfinite_values.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::merge {
namespace {

// Entries per slice when an element-wise method merges a large tensor slice by slice: enough that ATen's per-call
// overhead is small, few enough that the slice's inputs (read into memory of their own), copies and temporaries stay
// in the core's second-level cache while they are checked and merged. 2^15 (128 KiB per fp32 input) took half the
// CPU time of 2^18 in a linear merge of 4 and a post-hoc reconstruction from 8 fp32 models of 0.29 GiB.
constexpr std::int64_t kSliceEntries = std::int64_t{1} << 15;

std::int64_t entries(const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (const std::int64_t size : shape) count *= size;
  return count;
}

// How the tasks of one pass share memory and cores.
struct Schedule {
  std::vector<std::uint64_t> costs;  // bytes each task holds while it is computed
  std::vector<bool> exclusive;       // tasks too large to share the budget: computed alone, on every core
  std::vector<bool> whole_temporaries;  // tasks whose temporaries are the size of the tensor (not merged in slices)
  std::uint64_t budget = 0;          // bytes the tasks in flight may hold together
  int exclusive_threads = 1;         // ATen threads of an exclusive task
};

// Runs compute(i) for every i in [0, count) on `workers` threads and consume(i, result) on the calling thread in
// index order. Task i starts only when nothing else is in flight or when the costs of the tasks in flight (started,
// not yet consumed) plus its own stay within the budget; an exclusive task counts as the whole budget. So while
// the calling thread is busy in consume() (writing a shard), the workers go on computing as far as the budget
// allows. The oldest unconsumed task is always running or done, so this never deadlocks. The first failure stops
// the workers and is rethrown once they have finished.
void run_in_order(std::size_t count, int workers, const Schedule& schedule,
                  const std::function<at::Tensor(std::size_t)>& compute,
                  const std::function<void(std::size_t, at::Tensor)>& consume) {
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t next_task = 0;
  std::size_t consumed = 0;
  std::uint64_t in_flight_cost = 0;
  std::map<std::size_t, at::Tensor> finished;
  std::exception_ptr failure;
  bool stop = false;
  auto cost = [&](std::size_t task) { return schedule.exclusive[task] ? schedule.budget : schedule.costs[task]; };
  auto may_start = [&] {
    return next_task == consumed || in_flight_cost + cost(next_task) <= schedule.budget;
  };

  auto worker = [&] {
    c10::InferenceMode inference;
    while (true) {
      std::size_t task;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || next_task >= count || may_start(); });
        if (stop || next_task >= count) return;
        task = next_task++;
        in_flight_cost += cost(task);
      }
      try {
        // A task's ATen thread count depends only on the task, never on `workers`: ATen splits reductions by
        // thread count, so this is what keeps results bit-identical for any --threads.
        set_calling_thread_tensor_threads(schedule.exclusive[task] ? schedule.exclusive_threads : 1);
        at::Tensor result = compute(task);
        // The task's temporaries are freed by now; glibc keeps freed chunks below its (adaptive) mmap threshold
        // in its arenas, and without this the process holds on to their pages (unless it chose to:
        // lib/util/malloc_tuning.h). Only after tensor-sized temporaries: a tensor merged in slices frees a few
        // slice buffers, which the next such tensor reuses, where trimming them made it fault them in again
        // (a quarter of `ladle posthoc-ema`'s samples went to page faults and madvise).
        if (schedule.whole_temporaries[task]) release_freed_memory();
        std::lock_guard<std::mutex> lock(mutex);
        finished.emplace(task, std::move(result));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
      changed.notify_all();
    }
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back(worker);
  try {
    for (std::size_t task = 0; task < count; ++task) {
      at::Tensor result;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || finished.count(task) != 0; });
        if (stop) break;
        result = std::move(finished.at(task));
        finished.erase(task);
        ++consumed;
        in_flight_cost -= cost(task);
      }
      changed.notify_all();
      consume(task, std::move(result));
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failure) failure = std::current_exception();
    stop = true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  changed.notify_all();
  for (auto& thread : threads) thread.join();
  if (failure) std::rethrow_exception(failure);
}

// Rows of a tensor's inputs, [first, first + count) along dim 0, or all of them.
struct Rows {
  std::int64_t first = 0;
  std::int64_t count = -1;  // -1: all rows
};

class Executor {
 public:
  Executor(const MergePlan& plan, const InputModels& models, const MergeExecutionOptions& options)
      : plan_(plan), models_(models), options_(options) {}

  // Computes every tensor and hands each to `consume` on the calling thread, in plan order.
  MergeExecutionStats run(const std::function<void(const std::string&, at::Tensor)>& consume);

 private:
  // The `rows` of a tensor's inputs as stored, each read into memory of its own with read(2)
  // (CheckpointReader::read_tensor: on virtual machines much cheaper than touching the mapped pages).
  struct StoredInputs {
    std::optional<at::Tensor> base;
    std::vector<at::Tensor> models;  // in the order of PlannedTensor::models
  };
  StoredInputs load(const PlannedTensor& tensor, Rows rows = {}) const;
  at::Tensor load(const PlannedInput& input, const PlannedTensor& tensor, Rows rows = {}) const;
  at::Tensor prepare(const at::Tensor& stored, const PlannedTensor& tensor) const;
  MethodInputs method_inputs(const PlannedTensor& tensor, const StoredInputs& stored) const;
  bool sliced(const PlannedTensor& tensor) const;
  // The method's result for `rows` of the tensor, in the storage dtype, on the CPU: its inputs' rows are read and
  // checked for NaN and ±Inf, then merged.
  at::Tensor merge_rows(const PlannedTensor& tensor, Rows rows) const;
  // Throws naming the model, the tensor and the count when an input holds NaN or ±Inf (unless allowed).
  void require_finite_inputs(const PlannedTensor& tensor, const StoredInputs& stored) const;
  at::Tensor compute(const PlannedTensor& tensor) const;
  void find_thresholds(int threads);
  std::uint64_t memory_cost(const PlannedTensor& tensor) const;
  Schedule schedule(const std::vector<std::size_t>& tasks) const;

  const MergePlan& plan_;
  const InputModels& models_;
  MergeExecutionOptions options_;
  std::map<std::size_t, double> thresholds_;  // model index -> global magnitude threshold
  std::uint64_t threshold_bytes_read_ = 0;
  int exclusive_threads_ = 1;  // ATen threads of a tensor computed alone: the caller's count
};

at::Tensor Executor::load(const PlannedInput& input, const PlannedTensor& tensor, Rows rows) const {
  // All rows: the planned ones (a vocabulary cut keeps the first rows), or every row.
  if (rows.count < 0 && tensor.vocabulary_rows) rows = {0, *tensor.vocabulary_rows};
  return models_[input.model].reader->read_tensor(input.tensor, rows.first, rows.count);
}

Executor::StoredInputs Executor::load(const PlannedTensor& tensor, Rows rows) const {
  StoredInputs stored;
  if (tensor.vocabulary_remap) {
    // Whole matrices (a remapped tensor is never sliced), in the working dtype, rearranged into the output's rows.
    std::vector<at::Tensor> inputs;
    for (const auto& input : tensor.all_inputs()) inputs.push_back(load(input, tensor).to(tensor.working_dtype));
    std::vector<at::Tensor> remapped = remap_vocabulary_rows(*tensor.vocabulary_remap, inputs);
    auto next = remapped.begin();
    if (tensor.base) stored.base = *next++;
    stored.models.assign(next, remapped.end());
    return stored;
  }
  if (tensor.base) stored.base = load(*tensor.base, tensor, rows);
  for (const auto& input : tensor.models) stored.models.push_back(load(input, tensor, rows));
  return stored;
}

at::Tensor Executor::prepare(const at::Tensor& stored, const PlannedTensor& tensor) const {
  // A method that converts its inputs itself takes floating-point ones as stored; anything else is cast here.
  if (plan_.method->converts_inputs() && at::isFloatingType(stored.scalar_type())) return stored.to(options_.device);
  return stored.to(at::TensorOptions().device(options_.device).dtype(tensor.working_dtype));
}

MethodInputs Executor::method_inputs(const PlannedTensor& tensor, const StoredInputs& stored) const {
  MethodInputs inputs;
  inputs.tensor_name = tensor.name;
  if (tensor.base) inputs.base = prepare(*stored.base, tensor);
  for (std::size_t m = 0; m < tensor.models.size(); ++m) {
    inputs.models.push_back(prepare(stored.models[m], tensor));
    inputs.model_names.push_back(models_[tensor.models[m].model].reference.name);
  }
  inputs.model_parameters = tensor.model_parameters;
  inputs.base_parameters = tensor.base_parameters;
  inputs.parameters = tensor.parameters;
  inputs.working_dtype = tensor.working_dtype;
  inputs.seed = tensor_seed(options_.seed, tensor.name);
  return inputs;
}

bool Executor::sliced(const PlannedTensor& tensor) const {
  return !tensor.copy && !tensor.vocabulary_remap && !tensor.shape.empty() && entries(tensor.shape) > kSliceEntries &&
         plan_.method->elementwise(tensor.parameters);
}

at::Tensor Executor::merge_rows(const PlannedTensor& tensor, Rows rows) const {
  std::vector<std::int64_t> shape = tensor.shape;
  if (rows.count >= 0) shape.front() = rows.count;
  at::Tensor merged;
  {
    const StoredInputs stored = load(tensor, rows);
    require_finite_inputs(tensor, stored);
    MethodInputs inputs = method_inputs(tensor, stored);
    if (tensor.needs_global_magnitude_thresholds) {
      std::vector<double> thresholds;
      for (const auto& input : tensor.models) thresholds.push_back(thresholds_.at(input.model));
      inputs.global_magnitude_thresholds = std::move(thresholds);
    }
    try {
      merged = plan_.method->merge(inputs);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(plan_.method->name() + ": tensor '" + tensor.name + "': " + e.what());
    }
  }
  if (!merged.defined() || merged.sizes() != at::IntArrayRef(shape)) {
    throw Error(plan_.method->name() + ": tensor '" + tensor.name + "': the method returned shape " +
                (merged.defined() ? shape_text(merged.sizes()) : "(none)") + ", expected " + shape_text(shape));
  }
  return to_storage_dtype(merged, tensor.out_dtype).to(at::kCPU);
}

void Executor::require_finite_inputs(const PlannedTensor& tensor, const StoredInputs& stored) const {
  if (options_.allow_nonfinite) return;
  const auto check = [&](const PlannedInput& input, const at::Tensor& values) {
    if (count_nonfinite(values) == 0) return;
    // Rows of a slice hold some: the message counts them over the whole tensor.
    const InputModel& model = models_[input.model];
    require_finite(load(input, tensor), "model '" + model.reference.name + "' (" + model.reference.path.string() + ")",
                   input.tensor);
  };
  if (tensor.base) check(*tensor.base, *stored.base);
  for (std::size_t m = 0; m < tensor.models.size(); ++m) check(tensor.models[m], stored.models[m]);
}

at::Tensor Executor::compute(const PlannedTensor& tensor) const {
  if (tensor.copy) return load(tensor.models.front(), tensor);
  at::Tensor stored;
  if (sliced(tensor)) {
    // Slices of whole rows, merged on this task's ATen threads (each slice single-threaded) into the output.
    const std::int64_t rows = tensor.shape.front();
    const std::int64_t rows_per_slice = std::max<std::int64_t>(1, kSliceEntries / (entries(tensor.shape) / rows));
    stored = at::empty(tensor.shape, at::TensorOptions().dtype(tensor.out_dtype));
    at::parallel_for(0, (rows + rows_per_slice - 1) / rows_per_slice, 1, [&](std::int64_t first, std::int64_t last) {
      c10::InferenceMode inference;  // thread-local: ATen's pool threads do not inherit the worker's
      for (std::int64_t slice = first; slice < last; ++slice) {
        const Rows slice_rows{slice * rows_per_slice, std::min(rows_per_slice, rows - slice * rows_per_slice)};
        stored.narrow(0, slice_rows.first, slice_rows.count).copy_(merge_rows(tensor, slice_rows));
      }
    });
  } else {
    stored = merge_rows(tensor, {}).contiguous();
  }
  return stored;
}

std::uint64_t Executor::memory_cost(const PlannedTensor& tensor) const {
  if (tensor.copy) return tensor.input_bytes;
  // Sliced: the output; each slice's inputs, copies and temporaries are a few MiB.
  if (sliced(tensor)) return tensor.output_bytes;
  std::uint64_t numel = 1;
  for (const auto size : tensor.shape) numel *= static_cast<std::uint64_t>(size);
  const std::uint64_t working = numel * c10::elementSize(tensor.working_dtype);
  std::uint64_t cost = tensor.input_bytes + working;
  // A remapped vocabulary matrix: each input once more, rearranged, in the working dtype.
  if (tensor.vocabulary_remap) cost += working * tensor.all_inputs().size();
  for (const auto& input : tensor.all_inputs()) {
    const auto stored = io::to_scalar_type(models_[input.model].reader->entry(input.tensor).dtype);
    if (stored == tensor.working_dtype) continue;
    // A method that converts its inputs itself widens narrower floats block by block (no whole copy).
    const bool widened_in_blocks = plan_.method->converts_inputs() && stored && at::isFloatingType(*stored) &&
                                   c10::elementSize(*stored) < c10::elementSize(tensor.working_dtype);
    if (!widened_in_blocks) cost += working;
  }
  if (tensor.out_dtype != tensor.working_dtype) cost += tensor.output_bytes;
  return cost;
}

Schedule Executor::schedule(const std::vector<std::size_t>& tasks) const {
  Schedule schedule;
  for (const auto task : tasks) {
    const PlannedTensor& tensor = plan_.tensors[task];
    schedule.costs.push_back(memory_cost(tensor));
    schedule.budget = std::max(schedule.budget, schedule.costs.back());
    schedule.whole_temporaries.push_back(!tensor.copy && !sliced(tensor));
  }
  if (options_.memory_budget > 0) schedule.budget = options_.memory_budget;
  for (const auto cost : schedule.costs) schedule.exclusive.push_back(cost > schedule.budget / 2);
  schedule.exclusive_threads = exclusive_threads_;
  return schedule;
}

void Executor::find_thresholds(int threads) {
  // One density per model: the threshold keeps the top `density` fraction of the model's whole task vector.
  std::map<std::size_t, double> densities;
  std::vector<std::size_t> tasks;
  for (std::size_t i = 0; i < plan_.tensors.size(); ++i) {
    const PlannedTensor& tensor = plan_.tensors[i];
    if (!tensor.needs_global_magnitude_thresholds) continue;
    tasks.push_back(i);
    for (std::size_t m = 0; m < tensor.models.size(); ++m) {
      const auto found = tensor.model_parameters[m].find("density");
      const double density = found == tensor.model_parameters[m].end() ? 1.0 : found->second;
      const auto [known, inserted] = densities.emplace(tensor.models[m].model, density);
      if (!inserted && known->second != density) {
        throw Error("global_trim keeps one fraction of each model's whole task vector, but model '" +
                    models_[tensor.models[m].model].reference.name + "' has density " + std::to_string(known->second) +
                    " for some tensors and " + std::to_string(density) + " for '" + tensor.name +
                    "'; give it a single density");
      }
    }
  }
  std::map<std::size_t, MagnitudeThresholdFinder> finders;
  for (const auto& [model, density] : densities) finders.emplace(model, MagnitudeThresholdFinder(density));

  std::mutex mutex;
  auto pass = [&](bool first) {
    ProgressLine progress(first ? "trim thresholds (pass 1)" : "trim thresholds (pass 2)", tasks.size(),
                          ProgressOptions{"tensors"});
    run_in_order(
        tasks.size(), threads, schedule(tasks),
        [&](std::size_t task) {
          const PlannedTensor& tensor = plan_.tensors[tasks[task]];
          const std::vector<at::Tensor> vectors = task_vectors(method_inputs(tensor, load(tensor)));
          {
            std::lock_guard<std::mutex> lock(mutex);
            for (std::size_t m = 0; m < vectors.size(); ++m) {
              auto& finder = finders.at(tensor.models[m].model);
              if (first) {
                finder.add_first_pass(vectors[m]);
              } else if (finder.needs_second_pass()) {
                finder.add_second_pass(vectors[m]);
              }
            }
            threshold_bytes_read_ += tensor.input_bytes;
          }
          return at::Tensor();
        },
        [&](std::size_t, at::Tensor) { progress.advance(); });
  };
  pass(true);
  if (std::any_of(finders.begin(), finders.end(), [](const auto& entry) { return entry.second.needs_second_pass(); })) {
    pass(false);
  }
  for (const auto& [model, finder] : finders) {
    thresholds_[model] = finder.threshold();
    LADLE_LOG(info) << "global magnitude threshold of '" << models_[model].reference.name << "': " << thresholds_[model];
  }
}

MergeExecutionStats Executor::run(const std::function<void(const std::string&, at::Tensor)>& consume) {
  const auto start = std::chrono::steady_clock::now();
  const int caller_threads = at::get_num_threads();
  const int threads = options_.threads > 0 ? options_.threads : caller_threads;
  exclusive_threads_ = caller_threads;
  std::vector<std::size_t> tasks(plan_.tensors.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) tasks[i] = i;
  const Schedule merge_schedule = schedule(tasks);
  // Freed blocks are kept up to what the largest tensor needs, the most the next tensor can reuse.
  const ScopedHugePageCpuAllocator huge_pages(merge_schedule.budget);
  MergeExecutionStats stats;
  if (plan_.needs_global_magnitude_thresholds()) find_thresholds(threads);

  std::uint64_t total = 0;
  for (const auto& tensor : plan_.tensors) total += tensor.input_bytes + tensor.output_bytes;
  ProgressLine progress("merge", total, ProgressOptions{"B", ProgressUnit::bytes});
  run_in_order(
      plan_.tensors.size(), threads, merge_schedule, [&](std::size_t task) { return compute(plan_.tensors[task]); },
      [&](std::size_t task, at::Tensor tensor) {
        const PlannedTensor& planned = plan_.tensors[task];
        consume(planned.name, std::move(tensor));
        stats.bytes_read += planned.input_bytes;
        stats.bytes_written += planned.output_bytes;
        ++stats.tensors;
        progress.set_status(std::to_string(stats.tensors) + "/" + std::to_string(plan_.tensors.size()) + " tensors");
        progress.advance(planned.input_bytes + planned.output_bytes);
      });
  progress.finish();
  stats.bytes_read += threshold_bytes_read_;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace

std::uint64_t tensor_seed(std::uint64_t run_seed, const std::string& tensor_name) {
  std::uint64_t hash = 0xCBF29CE484222325ull;  // FNV-1a offset basis
  for (const unsigned char c : tensor_name) {
    hash ^= c;
    hash *= 0x100000001B3ull;  // FNV prime
  }
  return splitmix64(run_seed ^ splitmix64(hash));
}

MergeExecutionStats execute_merge(const MergePlan& plan, const InputModels& models, io::CheckpointWriter& writer,
                                  const MergeExecutionOptions& options) {
  // Every output's name, dtype and shape is known now: the writer writes the shards' headers up front and then
  // each tensor as soon as it is consumed, so finished tensors are freed (and their memory reused) at once.
  std::vector<io::TensorDeclaration> declarations;
  for (const auto& tensor : plan.tensors) {
    declarations.push_back({tensor.name, io::from_scalar_type(tensor.out_dtype), tensor.shape});
  }
  writer.declare_tensors(declarations);
  return Executor(plan, models, options).run([&](const std::string& name, at::Tensor tensor) { writer.add(name, tensor); });
}

NamedTensors merge_into_tensors(const MergePlan& plan, const InputModels& models, MergeExecutionStats* stats,
                                const MergeExecutionOptions& options) {
  NamedTensors merged;
  const MergeExecutionStats run_stats = Executor(plan, models, options).run(
      [&](const std::string& name, at::Tensor tensor) { merged.insert(name, std::move(tensor)); });
  if (stats) *stats = run_stats;
  return merged;
}

}  // namespace ladle::merge
