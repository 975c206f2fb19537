// How many candidates `ladle evolve` scores at once (fitness.workers). Every worker holds its own merged weights,
// causal LM and evaluator, and runs ATen on one thread, so a candidate's fitness does not depend on the count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ladle::evolve {

// What bounds the worker count when fitness.workers is 0 (auto).
struct ScoringLimits {
  int threads = 1;                                // ATen threads the process was given (--threads, OMP_NUM_THREADS)
  std::int64_t population = 1;                    // candidates per generation
  std::uint64_t bytes_per_worker = 0;             // estimated peak memory of one worker
  std::optional<std::uint64_t> available_bytes;   // MemAvailable; nullopt: unknown, memory does not bound the count
};

// A quarter of the available memory is left alone: the page cache of the memory-mapped inputs, which every merge
// reads again, and whatever else the machine runs; and bytes_per_worker is an estimate.
inline constexpr double kUsableMemoryFraction = 0.75;

struct ScoringWorkers {
  int count = 1;
  std::string reason;  // for the log: what bounded the count
};

// requested > 0: that many, but no more than the population (extra workers would idle). 0: the smallest of the
// threads, the population and the workers whose memory fits in kUsableMemoryFraction of the available memory,
// and at least 1.
ScoringWorkers choose_scoring_workers(std::int64_t requested, const ScoringLimits& limits);

}  // namespace ladle::evolve
