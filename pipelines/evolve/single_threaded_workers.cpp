#include "pipelines/evolve/single_threaded_workers.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "lib/util/threads.h"

namespace ladle::evolve {

void run_on_single_threaded_workers(std::size_t count, int workers,
                                    const std::function<void(std::size_t index, int worker)>& task) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::exception_ptr failure;
  auto work = [&](int worker) {
    try {
      set_calling_thread_tensor_threads(1);
      for (std::size_t index = next++; index < count && !stop; index = next++) task(index, worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = std::current_exception();
      stop = true;
    }
  };
  std::vector<std::thread> threads;
  std::exception_ptr start_failure;  // a thread that could not start: the running ones finish their current task
  try {
    for (int worker = 0; worker < std::max(1, workers); ++worker) threads.emplace_back(work, worker);
  } catch (...) {
    start_failure = std::current_exception();
    stop = true;
  }
  for (auto& thread : threads) thread.join();
  if (start_failure) std::rethrow_exception(start_failure);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace ladle::evolve
