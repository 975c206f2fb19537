// Streams a merge plan through its method into a checkpoint writer, out of core.
//
// For each output tensor, in plan order: the inputs it needs are read whole into memory with read(2)
// (CheckpointReader::read_tensor; on the virtual machines we measured, touching the pages of the memory-mapped
// checkpoints cost 3 to 10 times as much, and the merge reads each input once), cast to the working dtype (unless
// the method converts them itself, block by block: MergeMethod::converts_inputs) and moved to the device, merged,
// cast to the output dtype and handed to the writer, which writes it straight into its shard (every output is
// declared to the writer before the first is computed, so the shards' headers are known up front).
//
// A method that declares itself element-wise for the tensor's parameters (MergeMethod::elementwise: linear,
// task_arithmetic, ...) gets the tensor in row slices of about 2^15 entries, each read, checked, cast and merged
// into the output in turn: its inputs, working-dtype copies and temporaries are then a few MiB per thread instead of
// several times the tensor, and stay in cache. The result is the same bit for bit as merging the whole tensor.
//
// Scheduling. `threads` workers compute tensors while the calling thread writes them in plan order. A worker
// starts a tensor only while the bytes of the tensors computed or waiting to be written (inputs as read,
// working-dtype copies, result, output) stay within a memory budget, by default what the largest tensor needs
// alone; so the workers keep computing while a tensor is written. A tensor that needs more than half the budget is
// computed alone, with every ATen thread of the caller; all others run single-threaded, side by side. So peak
// memory is about the largest tensor's working set, whatever the models' size or the shard size, and since a
// tensor's ATen thread count depends only on the tensor (never on `threads`), the output is bit-identical for
// any thread count. Large temporaries come from a HugePageCpuAllocator (lib/util/huge_page_allocator.h) while the
// merge runs, which keeps up to one budget of freed blocks for reuse.
//
// Every floating-point input tensor is checked for NaN and ±Inf just before it is merged (a pass over pages the
// merge reads anyway), unless allow_nonfinite: the error names the model folder, the tensor and the count.
//
// Methods that trim by whole-model magnitude (ties with global_trim) get their thresholds from a first pass
// over every tensor's task vectors (two passes when needed; see lib/merge/methods/magnitude_threshold.h).
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <string>

#include "lib/merge/input_models.h"
#include "lib/merge/merge_plan.h"
#include "lib/weights/named_tensors.h"

namespace ladle::io {
class CheckpointWriter;
}

namespace ladle::merge {

struct MergeExecutionOptions {
  int threads = 0;                  // tensors merged at once; 0: the caller's ATen thread count (at::get_num_threads)
  c10::Device device = c10::kCPU;   // where the math runs; inputs are read on the CPU and outputs written from it
  std::uint64_t seed = 0;           // the run's seed; each tensor's seed is tensor_seed(seed, name)
  // Bytes the tensors in flight may hold at once (inputs as read, working-dtype copies, result, output);
  // 0: what the largest tensor needs alone, so a large tensor is computed alone and small ones side by side.
  std::uint64_t memory_budget = 0;
  // NaN and ±Inf in an input tensor pass into the output (--allow-nonfinite); by default each input tensor is
  // checked before it is merged and the first one holding any stops the merge (lib/weights/nonfinite_values.h).
  bool allow_nonfinite = false;
};

struct MergeExecutionStats {
  std::size_t tensors = 0;
  std::uint64_t bytes_read = 0;     // input tensor bytes, over every pass
  std::uint64_t bytes_written = 0;  // output tensor bytes
  double seconds = 0;
};

// The seed a tensor's method sees: a hash of the run's seed and the output tensor's name (64-bit FNV-1a
// of the name, mixed with the seed by splitmix64), so it depends on neither thread count nor tensor order.
std::uint64_t tensor_seed(std::uint64_t run_seed, const std::string& tensor_name);

// Computes every tensor of the plan and adds it to `writer` (which the caller finishes). Throws ladle::Error
// naming the tensor when a method fails; the caller's writer then discards its partial output.
MergeExecutionStats execute_merge(const MergePlan& plan, const InputModels& models, io::CheckpointWriter& writer,
                                  const MergeExecutionOptions& options = {});

// The same computation, the merged tensors kept in memory (output names, plan order, out_dtype, on the CPU) instead of
// written: for searches that merge the same inputs many times (`ladle evolve`). Bit-identical to what
// execute_merge writes. `stats` (optional) receives the run's figures.
NamedTensors merge_into_tensors(const MergePlan& plan, const InputModels& models, MergeExecutionStats* stats = nullptr,
                                const MergeExecutionOptions& options = {});

}  // namespace ladle::merge
