// Runs independent tasks on a few threads that each run ATen on one thread: the merges and the scorings of the
// candidates of a `ladle evolve` generation. A task's ATen thread count is then 1 whatever the worker count,
// and since ATen splits reductions and oneDNN blocks its sgemm by thread count, that is what makes a task's result
// bit-identical for any number of workers (as lib/merge/merge_executor.cpp does for its tensors).
#pragma once

#include <cstddef>
#include <functional>

namespace ladle::evolve {

// Calls task(index, worker) for every index in [0, count) on `workers` threads (at least one; worker in
// [0, workers)); each worker takes the next index not yet started, so the indices start in order but may finish in
// any order. Once a task throws, no further index starts; the first exception is rethrown, as thrown, after every
// worker has finished.
// Each worker sets only its own thread count (set_calling_thread_tensor_threads): the caller's, and the count ATen
// gives threads it creates later, stay as they were.
void run_on_single_threaded_workers(std::size_t count, int workers,
                                    const std::function<void(std::size_t index, int worker)>& task);

}  // namespace ladle::evolve
