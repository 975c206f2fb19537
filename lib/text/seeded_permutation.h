// Seeded random permutations that are the same on every platform and standard library: std::shuffle and
// std::uniform_int_distribution are implementation-defined, so a run resumed (or repeated) under another
// compiler could see other batches. Only std::mt19937_64, whose output the standard fixes, is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ladle::text {

// The seed of one epoch's permutation: splitmix64 of the run's seed mixed with the epoch. Plain seed + epoch
// would give the run with seed s + 1 the same orders as the run with seed s, one epoch later.
std::uint64_t epoch_seed(std::uint64_t seed, std::uint64_t epoch);

// A uniform permutation of 0..size-1: Fisher-Yates driven by std::mt19937_64(seed), with unbiased bounded
// draws (rejection of the incomplete last interval).
std::vector<std::size_t> seeded_permutation(std::size_t size, std::uint64_t seed);

}  // namespace ladle::text
