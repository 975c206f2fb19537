#include "pipelines/evolve/scoring_workers.h"

#include <algorithm>

#include "lib/util/human_format.h"

namespace ladle::evolve {
namespace {

std::int64_t workers_in_memory(const ScoringLimits& limits) {
  const double usable = kUsableMemoryFraction * static_cast<double>(*limits.available_bytes);
  return static_cast<std::int64_t>(usable / static_cast<double>(std::max<std::uint64_t>(1, limits.bytes_per_worker)));
}

}  // namespace

ScoringWorkers choose_scoring_workers(std::int64_t requested, const ScoringLimits& limits) {
  if (requested > 0) {
    const auto count = std::min<std::int64_t>(requested, limits.population);
    return {static_cast<int>(count), "fitness.workers: " + std::to_string(requested) +
                                         (count < requested ? ", capped at the population" : "")};
  }
  std::int64_t count = std::min<std::int64_t>(limits.threads, limits.population);
  std::string reason = "auto: " + std::to_string(limits.threads) + " ATen threads, population " +
                       std::to_string(limits.population);
  if (limits.available_bytes) {
    const std::int64_t fit = workers_in_memory(limits);
    count = std::min(count, fit);
    reason += ", memory for " + std::to_string(fit) + " (" + format_bytes(limits.bytes_per_worker) +
              " each, " + format_bytes(*limits.available_bytes) + " available)";
  } else {
    reason += ", available memory unknown (no MemAvailable in /proc/meminfo)";
  }
  return {static_cast<int>(std::max<std::int64_t>(1, count)), reason};
}

}  // namespace ladle::evolve
