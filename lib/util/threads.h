// How many threads ladle's tensor work uses. libtorch defaults to one intra-op thread on this kind of machine
// (docs/building.md §4), so every entry point calls configure_threads once.
#pragma once

namespace ladle {

// requested > 0: use that many; 0: OMP_NUM_THREADS when set, else every core. Returns the number in use.
// Throws ladle::Error for a negative request or a malformed OMP_NUM_THREADS.
int configure_threads(int requested);

}  // namespace ladle
