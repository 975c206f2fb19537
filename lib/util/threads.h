// How many threads ladle's tensor work uses. libtorch defaults to one intra-op thread on this kind of machine
// (docs/building.md §4), so every entry point calls configure_threads once.
#pragma once

namespace ladle {

// requested > 0: use that many; 0: OMP_NUM_THREADS when set, else every core. Returns the number in use.
// Throws ladle::Error for a negative request or a malformed OMP_NUM_THREADS.
int configure_threads(int requested);

// Sets how many threads the calling thread's tensor work uses (OpenMP's count for this thread, which ATen's
// parallel_for follows), leaving libtorch's process-wide count and its pthreadpool as they are. For threads ladle
// starts itself (the merge executor's and evolve's workers): at::set_num_threads recreates libtorch's pthreadpool on
// every call, and the new pool's threads spin before they sleep (4.6% of `ladle posthoc-ema`'s samples when the
// merge workers switched with it between tasks computed alone and tasks computed side by side).
void set_calling_thread_tensor_threads(int threads);

}  // namespace ladle
