#include "lib/merge/methods/magnitude_threshold.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <string>

#include "lib/merge/methods/sparsification.h"
#include "lib/merge/methods/working_arithmetic.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

// ---- per-tensor selection ----

constexpr int kDigitBits = 12;
// A search collects at most this many candidate keys, or 1/16 of the entries, per thread: 8-byte keys then take at
// most half a byte per entry (typically a fiftieth of that).
constexpr std::int64_t kCollectMinimum = std::int64_t{1} << 16;
// Blocks whose keys are sampled to bracket each wanted key (evenly spread over the tensor).
constexpr std::int64_t kSampleBlocks = 16;

std::int64_t block_count(std::int64_t n) { return (n + kMagnitudeBlock - 1) / kMagnitudeBlock; }
std::int64_t collect_limit(std::int64_t n) { return std::max(kCollectMinimum, n / 16); }

// The result of one search: the count-th largest key.
struct FoundKey {
  bool found = false;
  std::uint64_t key = 0;
  std::int64_t greater = 0;                // keys above it
  std::int64_t equal = 0;                  // keys equal to it
  std::vector<std::int64_t> ties_before;   // per block, keys equal to it in earlier blocks (split runs only)
};

// ---- the sampled sweep ----

// One search of the sweep: the count-th largest key of one request's keys, expected in [low, high].
struct BracketSearch {
  std::size_t request = 0;
  std::int64_t count = 0;
  std::uint64_t low = 0;                   // the bracket: keys in [low, high] are collected,
  std::uint64_t high = ~std::uint64_t{0};  // keys above `high` only counted
  std::int64_t above = 0;                  // keys above the bracket
  std::vector<std::int64_t> in_block;      // keys inside the bracket, per block
  // Each thread's collected keys, from its first block on, in flat index order (empty with low == high, where
  // every candidate equals `low` and counting them suffices).
  std::vector<std::pair<std::int64_t, std::vector<std::uint64_t>>> collected;
  bool overflow = false;                   // some thread found more candidates than it may collect
};

// Brackets the count-th largest of n keys with a sample of them (`sample` is reordered): the sample's quantiles
// 5 standard deviations (plus slack for correlated blocks) on either side of the expected rank. A miss is
// detected after the sweep and costs a fallback, never a wrong answer.
void bracket_from_sample(std::vector<std::uint64_t>& sample, std::int64_t n, BracketSearch& search) {
  const auto m = static_cast<double>(sample.size());
  const double q = static_cast<double>(search.count) / static_cast<double>(n);
  const double expected = q * m;  // sample keys at least the wanted one
  const double slack = 5.0 * std::sqrt(m * q * (1.0 - q)) + m / 512.0 + 16.0;
  const auto high_rank = static_cast<std::int64_t>(std::floor(expected - slack));
  const auto low_rank = static_cast<std::int64_t>(std::ceil(expected + slack));
  if (high_rank >= 0) {
    std::nth_element(sample.begin(), sample.begin() + high_rank, sample.end(), std::greater<>());
    search.high = sample[static_cast<std::size_t>(high_rank)];
  }
  if (low_rank < static_cast<std::int64_t>(sample.size())) {
    std::nth_element(sample.begin(), sample.begin() + low_rank, sample.end(), std::greater<>());
    search.low = sample[static_cast<std::size_t>(low_rank)];
  }
}

// Keys of the sampled blocks of one source.
std::vector<std::uint64_t> sample_keys(std::int64_t n, const MagnitudeKeySource& source) {
  const std::int64_t blocks = block_count(n);
  const std::int64_t sampled = std::min(blocks, kSampleBlocks);
  std::vector<std::uint64_t> sample;
  std::vector<std::uint64_t> keys(kMagnitudeBlock);
  for (std::int64_t i = 0; i < sampled; ++i) {
    const std::int64_t block = (2 * i + 1) * blocks / (2 * sampled);
    const std::int64_t begin = block * kMagnitudeBlock;
    const std::int64_t count = std::min(n, begin + kMagnitudeBlock) - begin;
    source(begin, begin + count, keys.data());
    sample.insert(sample.end(), keys.begin(), keys.begin() + count);
  }
  return sample;
}

// Counts the keys above `high` into `above` and appends those in [low, high] to `out`, which has room for `count`
// more; returns how many were appended. Branch-free: whether a key lies below, in or above the bracket is a coin
// toss for the typical key, which a branch would mispredict.
LADLE_MERGE_KERNEL std::int64_t bracket_block(const std::uint64_t* __restrict keys, std::int64_t count,
                                              std::uint64_t low, std::uint64_t high, std::uint64_t* __restrict out,
                                              std::int64_t& above) {
  const std::uint64_t width = high - low;
  std::int64_t greater = 0;
  std::int64_t kept = 0;
  for (std::int64_t j = 0; j < count; ++j) {
    const std::uint64_t key = keys[j];
    greater += key > high;
    out[kept] = key;
    kept += key - low <= width;  // low ≤ key ≤ high, in one unsigned comparison
  }
  above += greater;
  return kept;
}

// Counts the keys above `high` into `above`; returns how many equal `high`.
LADLE_MERGE_KERNEL std::int64_t count_at_bracket(const std::uint64_t* __restrict keys, std::int64_t count,
                                                 std::uint64_t high, std::int64_t& above) {
  std::int64_t greater = 0;
  std::int64_t equal = 0;
  for (std::int64_t j = 0; j < count; ++j) {
    greater += keys[j] > high;
    equal += keys[j] == high;
  }
  above += greater;
  return equal;
}

// One pass over the blocks of every request: each search counts the keys above its bracket and collects those in
// it, block by block; the blocks' keys of all requests are produced together (sources that share an input, the
// base model, then read it once).
void sweep(std::int64_t n, const std::vector<MagnitudeSelectionRequest>& requests, std::vector<BracketSearch>& searches) {
  const std::int64_t blocks = block_count(n);
  const std::int64_t limit = collect_limit(n);
  for (BracketSearch& search : searches) search.in_block.assign(static_cast<std::size_t>(blocks), 0);
  std::mutex mutex;
  at::parallel_for(0, blocks, 1, [&](std::int64_t first, std::int64_t last) {
    std::vector<std::uint64_t> keys(kMagnitudeBlock);
    std::vector<std::int64_t> above(searches.size(), 0);
    std::vector<std::vector<std::uint64_t>> collected(searches.size());
    std::vector<std::int64_t> used(searches.size(), 0);
    std::vector<bool> overflow(searches.size(), false);
    for (std::int64_t block = first; block < last; ++block) {
      const std::int64_t begin = block * kMagnitudeBlock;
      const std::int64_t count = std::min(n, begin + kMagnitudeBlock) - begin;
      for (std::size_t r = 0; r < requests.size(); ++r) {
        requests[r].keys(begin, begin + count, keys.data());
        for (std::size_t s = 0; s < searches.size(); ++s) {
          BracketSearch& search = searches[s];
          if (search.request != r) continue;
          std::int64_t inside = 0;
          if (search.low == search.high) {
            inside = count_at_bracket(keys.data(), count, search.high, above[s]);
          } else if (!overflow[s]) {
            // collected[s] holds used[s] keys; its size is only room, grown geometrically.
            std::vector<std::uint64_t>& out = collected[s];
            if (out.size() < static_cast<std::size_t>(used[s] + count)) out.resize(2 * (used[s] + count));
            inside = bracket_block(keys.data(), count, search.low, search.high, out.data() + used[s], above[s]);
            used[s] += inside;
            if (used[s] > limit) {
              overflow[s] = true;
              std::vector<std::uint64_t>().swap(out);
              used[s] = 0;
            }
          }
          search.in_block[static_cast<std::size_t>(block)] = inside;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    for (std::size_t s = 0; s < searches.size(); ++s) {
      searches[s].above += above[s];
      searches[s].overflow = searches[s].overflow || overflow[s];
      collected[s].resize(static_cast<std::size_t>(used[s]));
      searches[s].collected.emplace_back(first, std::move(collected[s]));
    }
  });
}

// The count-th largest key from the sweep's counts and candidates, or not found when the bracket missed it.
FoundKey resolve_bracket(BracketSearch& search) {
  FoundKey found;
  std::int64_t inside = 0;
  for (const std::int64_t count : search.in_block) inside += count;
  if (search.overflow || search.above >= search.count || search.count > search.above + inside) return found;
  const std::int64_t rank = search.count - search.above;  // 1-based, among the candidates
  found.found = true;
  if (search.low == search.high) {
    found.key = search.low;
    found.greater = search.above;
    found.equal = inside;
  } else {
    std::vector<std::uint64_t> candidates;
    candidates.reserve(static_cast<std::size_t>(inside));
    for (const auto& [first, keys] : search.collected) candidates.insert(candidates.end(), keys.begin(), keys.end());
    std::nth_element(candidates.begin(), candidates.begin() + (rank - 1), candidates.end(), std::greater<>());
    found.key = candidates[static_cast<std::size_t>(rank - 1)];
    found.greater = search.above + std::count_if(candidates.begin(), candidates.end(),
                                                 [&](std::uint64_t key) { return key > found.key; });
    found.equal = std::count(candidates.begin(), candidates.end(), found.key);
  }
  if (search.count - found.greater == found.equal) return found;
  // The cut splits a run of equal keys: count them per block, from the candidates (kept in index order).
  const std::size_t blocks = search.in_block.size();
  found.ties_before.assign(blocks, 0);
  if (search.low == search.high) {
    for (std::size_t block = 1; block < blocks; ++block) {
      found.ties_before[block] = found.ties_before[block - 1] + search.in_block[block - 1];
    }
    return found;
  }
  std::vector<std::int64_t> at_cut(blocks, 0);
  for (const auto& [first, keys] : search.collected) {
    auto key = keys.begin();
    for (auto block = static_cast<std::size_t>(first); key != keys.end(); ++block) {
      const auto end = key + search.in_block[block];
      at_cut[block] = std::count(key, end, found.key);
      key = end;
    }
  }
  for (std::size_t block = 1; block < blocks; ++block) {
    found.ties_before[block] = found.ties_before[block - 1] + at_cut[block - 1];
  }
  return found;
}

// ---- the radix fallback ----

// One k-th-largest-key search by radix selection, narrowed pass by pass.
struct RadixSearch {
  std::int64_t rank = 0;        // 1-based rank from the top of the wanted key among the candidates
  std::uint64_t prefix = 0;     // the wanted key's known high bits
  int known_bits = 0;           // how many high bits of the key_bits-bit key are known
  std::int64_t candidates = 0;  // keys whose high bits are `prefix`
  std::int64_t greater = 0;     // keys above every candidate
  bool done = false;
  std::uint64_t key = 0;        // when done: the wanted key
  std::int64_t equal = 0;       // when done: keys equal to it
};

// What one pass does for one unfinished search: collect its candidates, or count their next digit.
struct PassStep {
  RadixSearch* search;
  bool collect;
  int shift;  // key >> shift gives the known high bits
  int digit;  // bits counted by this pass
};

// One pass over the keys that advances every unfinished search by one step: a bin with few keys is collected and
// finished by std::nth_element, a larger one has its next 12 bits counted.
void advance_searches(std::int64_t n, int key_bits, const MagnitudeKeySource& source,
                      const std::vector<RadixSearch*>& searches) {
  const std::int64_t limit = collect_limit(n);
  std::vector<PassStep> steps;
  for (RadixSearch* search : searches) {
    const int shift = key_bits - search->known_bits;
    steps.push_back({search, search->candidates <= limit, shift, std::min(kDigitBits, shift)});
  }
  std::vector<std::vector<std::int64_t>> counts(steps.size());
  std::vector<std::vector<std::uint64_t>> collected(steps.size());
  for (std::size_t s = 0; s < steps.size(); ++s) {
    if (!steps[s].collect) counts[s].assign(std::size_t{1} << steps[s].digit, 0);
  }
  std::mutex mutex;
  at::parallel_for(0, block_count(n), 1, [&](std::int64_t first, std::int64_t last) {
    std::vector<std::uint64_t> keys(kMagnitudeBlock);
    std::vector<std::vector<std::int64_t>> local_counts(steps.size());
    std::vector<std::vector<std::uint64_t>> local_collected(steps.size());
    for (std::size_t s = 0; s < steps.size(); ++s) local_counts[s].assign(counts[s].size(), 0);
    for (std::int64_t block = first; block < last; ++block) {
      const std::int64_t begin = block * kMagnitudeBlock;
      const std::int64_t count = std::min(n, begin + kMagnitudeBlock) - begin;
      source(begin, begin + count, keys.data());
      for (std::size_t s = 0; s < steps.size(); ++s) {
        const PassStep& step = steps[s];
        const std::uint64_t prefix = step.search->prefix;
        const int shift = step.shift;
        if (step.collect) {
          auto& out = local_collected[s];
          for (std::int64_t j = 0; j < count; ++j) {
            if ((keys[j] >> shift) == prefix) out.push_back(keys[j]);
          }
          continue;
        }
        std::int64_t* bins = local_counts[s].data();
        const int low = shift - step.digit;
        const std::uint64_t mask = (std::uint64_t{1} << step.digit) - 1;
        for (std::int64_t j = 0; j < count; ++j) {
          if ((keys[j] >> shift) == prefix) ++bins[(keys[j] >> low) & mask];
        }
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    for (std::size_t s = 0; s < steps.size(); ++s) {
      for (std::size_t b = 0; b < counts[s].size(); ++b) counts[s][b] += local_counts[s][b];
      collected[s].insert(collected[s].end(), local_collected[s].begin(), local_collected[s].end());
    }
  });

  for (std::size_t s = 0; s < steps.size(); ++s) {
    RadixSearch& search = *steps[s].search;
    if (steps[s].collect) {
      std::vector<std::uint64_t>& keys = collected[s];
      const auto nth = keys.begin() + (search.rank - 1);
      std::nth_element(keys.begin(), nth, keys.end(), std::greater<>());
      search.key = *nth;
      search.greater += std::count_if(keys.begin(), keys.end(), [&](std::uint64_t k) { return k > search.key; });
      search.equal = std::count(keys.begin(), keys.end(), search.key);
      search.done = true;
      continue;
    }
    // Walk the bins from the largest digit down to the one holding the rank-th largest candidate.
    const std::vector<std::int64_t>& bins = counts[s];
    std::size_t bin = bins.size() - 1;
    while (bins[bin] < search.rank) {
      search.rank -= bins[bin];
      search.greater += bins[bin];
      --bin;
    }
    search.prefix = (search.prefix << steps[s].digit) | bin;
    search.known_bits += steps[s].digit;
    search.candidates = bins[bin];
    if (search.known_bits == key_bits) {
      search.key = search.prefix;
      search.equal = search.candidates;
      search.done = true;
    }
  }
}

// The count-th largest keys of one source by radix selection, then a pass counting the keys at each cut per
// block where the cut splits a run of equal keys.
std::vector<FoundKey> radix_select(std::int64_t n, int key_bits, const MagnitudeKeySource& source,
                                   const std::vector<std::int64_t>& counts) {
  std::vector<RadixSearch> searches(counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    searches[i].rank = counts[i];
    searches[i].candidates = n;
  }
  while (true) {
    std::vector<RadixSearch*> open;
    for (RadixSearch& search : searches) {
      if (!search.done) open.push_back(&search);
    }
    if (open.empty()) break;
    advance_searches(n, key_bits, source, open);
  }
  std::vector<FoundKey> found(counts.size());
  std::vector<std::size_t> split;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    found[i] = {true, searches[i].key, searches[i].greater, searches[i].equal, {}};
    if (counts[i] - found[i].greater < found[i].equal) split.push_back(i);
  }
  if (split.empty()) return found;
  const std::int64_t blocks = block_count(n);
  std::vector<std::vector<std::int64_t>> at_cut(split.size(), std::vector<std::int64_t>(blocks + 1, 0));
  at::parallel_for(0, blocks, 1, [&](std::int64_t first, std::int64_t last) {
    std::vector<std::uint64_t> keys(kMagnitudeBlock);
    for (std::int64_t block = first; block < last; ++block) {
      const std::int64_t begin = block * kMagnitudeBlock;
      const std::int64_t count = std::min(n, begin + kMagnitudeBlock) - begin;
      source(begin, begin + count, keys.data());
      for (std::size_t s = 0; s < split.size(); ++s) {
        at_cut[s][block + 1] = std::count(keys.begin(), keys.begin() + count, found[split[s]].key);
      }
    }
  });
  for (std::size_t s = 0; s < split.size(); ++s) {
    std::vector<std::int64_t>& before = at_cut[s];
    for (std::int64_t block = 1; block <= blocks; ++block) before[block] += before[block - 1];
    before.pop_back();
    found[split[s]].ties_before = std::move(before);
  }
  return found;
}

// selected[j] = keys[j] ≥ cut.
LADLE_MERGE_KERNEL void mark_at_least(const std::uint64_t* __restrict keys, std::int64_t count, std::uint64_t cut,
                                      std::uint8_t* __restrict selected) {
  for (std::int64_t j = 0; j < count; ++j) selected[j] = keys[j] >= cut;
}

// The sign bit cleared, widened to 64 bits.
template <typename Bits>
LADLE_MERGE_KERNEL void clear_sign_bits(const Bits* __restrict bits, std::int64_t count, Bits magnitude_mask,
                                        std::uint64_t* __restrict keys) {
  for (std::int64_t j = 0; j < count; ++j) keys[j] = bits[j] & magnitude_mask;
}

float key_value_as_float(at::ScalarType dtype, std::uint64_t key) {
  switch (dtype) {
    case at::kBFloat16: {
      const auto bits = static_cast<std::uint32_t>(key) << 16;
      float value;
      std::memcpy(&value, &bits, sizeof value);
      return value;
    }
    case at::kHalf:
      return static_cast<float>(c10::Half(static_cast<std::uint16_t>(key), c10::Half::from_bits()));
    case at::kFloat: {
      const auto bits = static_cast<std::uint32_t>(key);
      float value;
      std::memcpy(&value, &bits, sizeof value);
      return value;
    }
    case at::kDouble: {
      double value;
      std::memcpy(&value, &key, sizeof value);
      return static_cast<float>(value);
    }
    default:
      throw Error(std::string("magnitude keys: unsupported dtype ") + c10::toString(dtype));
  }
}

// ---- whole-model threshold ----

constexpr std::int64_t kHighBins = std::int64_t{1} << 15;  // sign bit is 0 for |τ|
constexpr std::int64_t kLowBins = std::int64_t{1} << 16;

// |τ| as contiguous fp32 bit patterns (NaN entries count as the largest magnitudes, so they never lower the
// threshold of the finite ones).
at::Tensor magnitude_bits(const at::Tensor& values) {
  return values.detach().to(at::kCPU).abs().to(at::kFloat).contiguous().view(at::kInt);
}

float float_from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

void magnitude_keys(at::ScalarType dtype, const void* values, std::int64_t count, std::uint64_t* keys) {
  switch (dtype) {
    case at::kBFloat16:
    case at::kHalf:
      clear_sign_bits(static_cast<const std::uint16_t*>(values), count, std::uint16_t{0x7FFF}, keys);
      return;
    case at::kFloat:
      clear_sign_bits(static_cast<const std::uint32_t*>(values), count, std::uint32_t{0x7FFFFFFF}, keys);
      return;
    case at::kDouble:
      clear_sign_bits(static_cast<const std::uint64_t*>(values), count, std::uint64_t{0x7FFFFFFFFFFFFFFF}, keys);
      return;
    default:
      throw Error(std::string("magnitude keys: unsupported dtype ") + c10::toString(dtype));
  }
}

int magnitude_key_bits(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16:
    case at::kHalf:
      return 15;
    case at::kFloat:
      return 31;
    case at::kDouble:
      return 63;
    default:
      throw Error(std::string("magnitude keys: unsupported dtype ") + c10::toString(dtype));
  }
}

std::uint64_t infinite_magnitude_key(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16:
      return 0x7F80u;
    case at::kHalf:
      return 0x7C00u;
    case at::kFloat:
      return 0x7F800000u;
    case at::kDouble:
      return 0x7FF0000000000000ull;
    default:
      throw Error(std::string("magnitude keys: unsupported dtype ") + c10::toString(dtype));
  }
}

std::uint64_t first_key_at_least(at::ScalarType dtype, float threshold) {
  // Key order is value order up to +inf, and conversion to fp32 is monotone: binary search.
  std::uint64_t low = 0;
  std::uint64_t high = infinite_magnitude_key(dtype) + 1;
  while (low < high) {
    const std::uint64_t middle = low + (high - low) / 2;
    if (key_value_as_float(dtype, middle) >= threshold) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

void TopMagnitudes::mark(std::int64_t block, const std::uint64_t* keys, std::int64_t count,
                         std::uint8_t* selected) const {
  if (everything_ || nothing_) {
    std::fill(selected, selected + count, static_cast<std::uint8_t>(everything_));
    return;
  }
  const std::uint64_t cut = cut_;
  if (ties_before_.empty()) {  // every entry at the cut is selected
    mark_at_least(keys, count, cut, selected);
    return;
  }
  // The tie of rank r (0-based, in flat index order) is selected when r ∈ [first, last).
  const std::int64_t first = lower_index_first_ ? 0 : ties_ - ties_kept_;
  const std::int64_t last = lower_index_first_ ? ties_kept_ : ties_;
  std::int64_t rank = ties_before_[static_cast<std::size_t>(block)];
  // Only the block(s) where the kept ranks end split their ties: elsewhere all of a block's ties are kept or none
  // are, and the vectorised comparison decides.
  const auto next = static_cast<std::size_t>(block) + 1;
  const std::int64_t rank_end = next < ties_before_.size() ? ties_before_[next] : ties_;
  if (rank >= first && rank_end <= last) {
    mark_at_least(keys, count, cut, selected);
    return;
  }
  if (rank_end <= first || rank >= last) {
    mark_at_least(keys, count, cut + 1, selected);
    return;
  }
  for (std::int64_t j = 0; j < count; ++j) {
    if (keys[j] == cut) {
      selected[j] = rank >= first && rank < last;
      ++rank;
    } else {
      selected[j] = keys[j] > cut;
    }
  }
}

std::vector<std::vector<TopMagnitudes>> select_top_magnitudes(
    std::int64_t n, at::ScalarType dtype, const std::vector<MagnitudeSelectionRequest>& requests) {
  const int key_bits = magnitude_key_bits(dtype);
  std::vector<std::vector<TopMagnitudes>> selections(requests.size());
  std::vector<BracketSearch> searches;
  std::vector<std::pair<std::size_t, std::size_t>> searched;  // (request, selection) of each search
  for (std::size_t r = 0; r < requests.size(); ++r) {
    std::vector<std::uint64_t> sample;
    if (n > collect_limit(n)) sample = sample_keys(n, requests[r].keys);
    for (std::size_t i = 0; i < requests[r].counts.size(); ++i) {
      const std::int64_t count = std::clamp<std::int64_t>(requests[r].counts[i], 0, std::max<std::int64_t>(n, 0));
      TopMagnitudes selection;
      selection.lower_index_first_ = requests[r].lower_index_first;
      selection.everything_ = count == n;
      selection.nothing_ = count == 0 && n > 0;
      selections[r].push_back(selection);
      if (count == 0 || count == n) continue;
      BracketSearch search;
      search.request = r;
      search.count = count;
      // Small tensors are collected whole: the bracket is every key.
      if (!sample.empty()) bracket_from_sample(sample, n, search);
      searches.push_back(std::move(search));
      searched.emplace_back(r, i);
    }
  }
  if (!searches.empty()) sweep(n, requests, searches);

  for (std::size_t s = 0; s < searches.size(); ++s) {
    const auto [r, i] = searched[s];
    FoundKey found = resolve_bracket(searches[s]);
    std::vector<std::int64_t>().swap(searches[s].in_block);
    searches[s].collected.clear();
    if (!found.found) found = radix_select(n, key_bits, requests[r].keys, {searches[s].count}).front();
    TopMagnitudes& selection = selections[r][i];
    selection.cut_ = found.key;
    selection.ties_ = found.equal;
    selection.ties_kept_ = searches[s].count - found.greater;
    selection.ties_before_ = std::move(found.ties_before);
  }
  return selections;
}

std::vector<TopMagnitudes> select_top_magnitudes(std::int64_t n, at::ScalarType dtype, const MagnitudeKeySource& keys,
                                                 const std::vector<std::int64_t>& counts, bool lower_index_first) {
  return select_top_magnitudes(n, dtype, {{keys, counts, lower_index_first}}).front();
}

MagnitudeThresholdFinder::MagnitudeThresholdFinder(double density)
    : density_(density), high_counts_(kHighBins, 0) {}

void MagnitudeThresholdFinder::add_first_pass(const at::Tensor& values) {
  if (first_pass_done_) throw Error("magnitude threshold: add_first_pass called after the second pass began");
  const at::Tensor bits = magnitude_bits(values);
  const auto* data = bits.data_ptr<std::int32_t>();
  const std::int64_t n = bits.numel();
  for (std::int64_t i = 0; i < n; ++i) ++high_counts_[static_cast<std::uint32_t>(data[i]) >> 16];
  total_ += n;
}

bool MagnitudeThresholdFinder::needs_second_pass() const {
  const std::int64_t k = kept_count(density_, total_);
  return k > 0 && k < total_;
}

void MagnitudeThresholdFinder::locate_bin() {
  first_pass_done_ = true;
  const std::int64_t k = kept_count(density_, total_);
  std::int64_t above = 0;
  for (std::int64_t bin = kHighBins - 1; bin >= 0; --bin) {
    if (above + high_counts_[bin] >= k) {
      bin_ = bin;
      rank_in_bin_ = k - above;
      break;
    }
    above += high_counts_[bin];
  }
  low_counts_.assign(kLowBins, 0);
}

void MagnitudeThresholdFinder::add_second_pass(const at::Tensor& values) {
  if (!first_pass_done_) {
    if (!needs_second_pass()) return;
    locate_bin();
  }
  const at::Tensor bits = magnitude_bits(values);
  const auto* data = bits.data_ptr<std::int32_t>();
  const std::int64_t n = bits.numel();
  const auto bin = static_cast<std::uint32_t>(bin_);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto pattern = static_cast<std::uint32_t>(data[i]);
    if ((pattern >> 16) == bin) ++low_counts_[pattern & 0xFFFFu];
  }
  second_pass_done_ = true;
}

double MagnitudeThresholdFinder::threshold() const {
  const std::int64_t k = kept_count(density_, total_);
  if (k == 0) return std::numeric_limits<double>::infinity();
  if (k == total_) return 0.0;
  if (!second_pass_done_) throw Error("magnitude threshold: the second pass over the tensors is missing");
  std::int64_t seen = 0;
  for (std::int64_t low = kLowBins - 1; low >= 0; --low) {
    seen += low_counts_[low];
    if (seen >= rank_in_bin_) {
      return float_from_bits((static_cast<std::uint32_t>(bin_) << 16) | static_cast<std::uint32_t>(low));
    }
  }
  throw Error("magnitude threshold: the second pass saw fewer entries than the first (were the tensors the same?)");
}

double global_magnitude_threshold(
    const std::function<void(const std::function<void(const at::Tensor&)>&)>& for_each_tensor, double density) {
  MagnitudeThresholdFinder finder(density);
  for_each_tensor([&](const at::Tensor& values) { finder.add_first_pass(values); });
  if (finder.needs_second_pass()) {
    for_each_tensor([&](const at::Tensor& values) { finder.add_second_pass(values); });
  }
  return finder.threshold();
}

}  // namespace ladle::merge
