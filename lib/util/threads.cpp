#include "lib/util/threads.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "lib/util/error.h"

namespace ladle {
namespace {

int threads_from_environment() {
  const char* value = std::getenv("OMP_NUM_THREADS");
  if (value == nullptr || *value == '\0') return 0;
  char* end = nullptr;
  long parsed = std::strtol(value, &end, 10);
  if (*end != '\0' || parsed <= 0 || parsed > 4096) {
    throw Error(std::string("OMP_NUM_THREADS='") + value + "' is not a positive whole number");
  }
  return static_cast<int>(parsed);
}

}  // namespace

int configure_threads(int requested) {
  if (requested < 0) throw Error("--threads must be 0 (all cores) or positive, got " + std::to_string(requested));
  int threads = requested;
  if (threads == 0) threads = threads_from_environment();
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  return threads;
}

void set_calling_thread_tensor_threads(int threads) {
  // ATen initialises each thread's count lazily on its first query and would then overwrite what is set here.
  at::get_num_threads();
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

}  // namespace ladle
