#include "lib/text/seeded_permutation.h"

#include <numeric>
#include <random>
#include <utility>

#include "lib/util/splitmix64.h"

namespace ladle::text {
namespace {

// Uniform in [0, bound): draws below 2^64 mod bound would make small values likelier, so they are redrawn.
std::uint64_t uniform_below(std::mt19937_64& random, std::uint64_t bound) {
  const std::uint64_t reject_below = (0 - bound) % bound;  // 2^64 mod bound
  for (;;) {
    const auto draw = random();
    if (draw >= reject_below) return draw % bound;
  }
}

}  // namespace

std::uint64_t epoch_seed(std::uint64_t seed, std::uint64_t epoch) { return splitmix64(splitmix64(seed) ^ epoch); }

std::vector<std::size_t> seeded_permutation(std::size_t size, std::uint64_t seed) {
  std::vector<std::size_t> order(size);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 random(seed);
  for (std::size_t i = size; i > 1; --i) {
    std::swap(order[i - 1], order[uniform_below(random, i)]);
  }
  return order;
}

}  // namespace ladle::text
