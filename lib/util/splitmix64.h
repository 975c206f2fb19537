// splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; Vigna's
// reference code, the seeding generator recommended for xoshiro): one step of the generator, i.e. the state
// advanced by the golden-ratio increment and passed through the finaliser. Used to derive independent seeds
// (per tensor, per model, per epoch) from one run seed.
#pragma once

#include <cstdint>

namespace ladle {

constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace ladle
