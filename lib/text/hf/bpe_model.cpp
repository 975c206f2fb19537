#include "lib/text/hf/bpe_model.h"

#include <cstdio>
#include <queue>
#include <unordered_set>

#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"
#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::hf {
namespace {

constexpr std::uint64_t pair_key(std::uint32_t left, std::uint32_t right) {
  return (static_cast<std::uint64_t>(left) << 32 | right) + 1;
}

std::size_t slot_of(std::uint64_t key, std::size_t mask) {
  // splitmix64's finaliser spreads the pair's bits over the table.
  key ^= key >> 30;
  key *= 0xBF58476D1CE4E5B9ULL;
  key ^= key >> 27;
  key *= 0x94D049BB133111EBULL;
  key ^= key >> 31;
  return static_cast<std::size_t>(key) & mask;
}

// A pending merge of the symbol at `position` with the one after it (Rust's word.rs Merge): lowest rank first,
// then the leftmost.
struct PendingMerge {
  std::uint32_t rank;
  std::uint32_t position;
  std::uint32_t new_id;
  bool operator>(const PendingMerge& other) const {
    return rank != other.rank ? rank > other.rank : position > other.position;
  }
};

Vocabulary vocabulary_of(const JsonField& vocab) {
  if (!vocab.is_object()) vocab.fail("expected an object of token -> id");
  Vocabulary vocabulary;
  std::unordered_set<std::uint32_t> seen;  // not a table by id: ids go up to 2^31
  for (const auto& [token, value] : vocab.json().items()) {
    const bool valid = (value.is_number_unsigned() || value.is_number_integer()) && value.get<std::int64_t>() >= 0 &&
                       value.get<std::int64_t>() < (std::int64_t{1} << 31);
    if (!valid) vocab.fail(io::quote_for_message(token) + ": expected a token id in [0, 2^31), found " + value.dump());
    const auto id = value.get<std::uint32_t>();
    if (!seen.insert(id).second) {
      vocab.fail(io::quote_for_message(token) + ": id " + std::to_string(id) + " is given to two tokens");
    }
    vocabulary.add(token, id);
  }
  return vocabulary;
}

// Merges as "left right" strings or [left, right] pairs. Read without a JsonField per merge (Gemma 3 has 514,906);
// one names the merge only in an error.
std::vector<BpeModel::Merge> merges_of(const JsonField& list) {
  std::vector<BpeModel::Merge> merges;
  merges.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& merge = list.json()[i];
    if (merge.is_string()) {
      // "left right": Rust's convert_merges_to_hashmap requires exactly one space.
      const auto& text = merge.get_ref<const std::string&>();
      const std::size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        list.at(i).fail("expected \"left right\" (two tokens separated by one space)");
      }
      merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      list.at(i).fail("expected \"left right\" or a pair [left, right] of strings");
    }
  }
  return merges;
}

}  // namespace

BpeModel::BpeModel(Vocabulary vocabulary, const std::vector<Merge>& merges, BpeSettings settings,
                   const std::function<std::string(std::size_t)>& where_merge, const std::string& where_model)
    : vocabulary_(std::move(vocabulary)), settings_(std::move(settings)) {
  if (settings_.unk_token) {
    unk_id_ = vocabulary_.find(*settings_.unk_token);
    if (!unk_id_) throw Error(where_model + ": unk_token '" + *settings_.unk_token + "' is not in the vocabulary");
  }
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", byte);
    const auto id = vocabulary_.find(name);
    byte_ids_[byte] = id ? static_cast<std::int64_t>(*id) : -1;
  }
  std::size_t capacity = 64;
  while (capacity < merges.size() * 2) capacity *= 2;
  merge_keys_.assign(capacity, 0);
  merge_targets_.resize(capacity);
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    // Named references, not a structured binding: a lambda may not capture one before C++20 (clang refuses it).
    const std::string& left = merges[rank].first;
    const std::string& right = merges[rank].second;
    const auto id_of = [&](const std::string& token) {
      const auto id = vocabulary_.find(token);
      if (!id) throw Error(where_merge(rank) + ": merge '" + left + " " + right + "' needs '" + token +
                           "', which is not in the vocabulary");
      return *id;
    };
    const std::uint32_t left_id = id_of(left);
    const std::uint32_t right_id = id_of(right);
    add_merge(left_id, right_id, {static_cast<std::uint32_t>(rank), id_of(left + right)});
  }
}

std::unique_ptr<BpeModel> BpeModel::from_json(const JsonField& model) {
  if (const auto dropout = model.optional("dropout")) {
    if (!dropout->json().is_number() || dropout->json().get<double>() != 0.0) {
      dropout->fail("BPE dropout is not supported (ladle encodes deterministically: null or 0 only)");
    }
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!model.string_or(key, "").empty()) model[key].fail("a non-empty value is not supported");
  }
  BpeSettings settings;
  if (const auto unk = model.optional("unk_token")) settings.unk_token = unk->string();
  settings.fuse_unk = model.boolean_or("fuse_unk", false);
  settings.byte_fallback = model.boolean_or("byte_fallback", false);
  settings.ignore_merges = model.boolean_or("ignore_merges", false);
  const JsonField merges = model["merges"];
  return std::make_unique<BpeModel>(
      vocabulary_of(model["vocab"]), merges_of(merges), settings,
      [&](std::size_t i) { return merges.at(i).where(); }, model.where());
}

std::unique_ptr<BpeModel> BpeModel::from_files(const std::filesystem::path& vocab_json,
                                               const std::filesystem::path& merges_txt) {
  constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{64} << 20;
  return from_texts(io::read_text_file(vocab_json, kMaxFileBytes), io::read_text_file(merges_txt, kMaxFileBytes),
                    vocab_json.string(), merges_txt.string());
}

std::unique_ptr<BpeModel> BpeModel::from_texts(const std::string& vocab_json, const std::string& merges_txt,
                                               const std::string& vocab_label, const std::string& merges_label) {
  const nlohmann::json vocab = io::parse_json_strict(vocab_json, vocab_label, 4);
  require_valid_utf8(merges_txt, merges_label);
  std::vector<Merge> merges;
  std::vector<std::size_t> lines;
  std::size_t line_number = 0;
  for (std::size_t begin = 0; begin < merges_txt.size();) {
    std::size_t end = merges_txt.find('\n', begin);
    if (end == std::string::npos) end = merges_txt.size();
    std::string_view line(merges_txt.data() + begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++line_number;
    begin = end + 1;
    if (line.rfind("#version", 0) == 0) continue;
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      throw Error(merges_label + ":" + std::to_string(line_number) +
                  ": expected \"left right\" (two tokens separated by one space)");
    }
    merges.emplace_back(std::string(line.substr(0, space)), std::string(line.substr(space + 1)));
    lines.push_back(line_number);
  }
  return std::make_unique<BpeModel>(
      vocabulary_of(JsonField(vocab, vocab_label)), merges, BpeSettings{},
      [&](std::size_t i) { return merges_label + ":" + std::to_string(lines[i]); }, vocab_label);
}

void BpeModel::add_merge(std::uint32_t left, std::uint32_t right, MergeTarget target) {
  const std::uint64_t key = pair_key(left, right);
  const std::size_t mask = merge_keys_.size() - 1;
  std::size_t slot = slot_of(key, mask);
  while (merge_keys_[slot] != 0 && merge_keys_[slot] != key) slot = (slot + 1) & mask;
  // A repeated merge keeps its last rank, as the Rust and JavaScript implementations do (a map insert).
  merge_keys_[slot] = key;
  merge_targets_[slot] = target;
}

std::optional<BpeModel::MergeTarget> BpeModel::find_merge(std::uint32_t left, std::uint32_t right) const {
  const std::uint64_t key = pair_key(left, right);
  const std::size_t mask = merge_keys_.size() - 1;
  for (std::size_t slot = slot_of(key, mask); merge_keys_[slot] != 0; slot = (slot + 1) & mask) {
    if (merge_keys_[slot] == key) return merge_targets_[slot];
  }
  return std::nullopt;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<std::uint32_t>& ids,
                               std::vector<std::uint32_t>& lengths) const {
  std::optional<std::pair<std::uint32_t, std::uint32_t>> unknown;  // pending unk id and its byte length
  const auto flush_unknown = [&] {
    if (unknown) {
      ids.push_back(unknown->first);
      lengths.push_back(unknown->second);
      unknown.reset();
    }
  };
  for (std::size_t i = 0; i < word.size();) {
    const std::size_t length = utf8_length(static_cast<unsigned char>(word[i]));
    const std::string_view character = word.substr(i, length);
    i += length;
    if (const auto id = vocabulary_.find(character)) {
      flush_unknown();
      ids.push_back(*id);
      lengths.push_back(static_cast<std::uint32_t>(length));
      continue;
    }
    if (settings_.byte_fallback) {
      bool all_bytes = true;
      for (const char byte : character) all_bytes = all_bytes && byte_ids_[static_cast<unsigned char>(byte)] >= 0;
      if (all_bytes) {
        // Rust's merge_word adds the byte tokens without first adding a pending unk.
        for (const char byte : character) {
          ids.push_back(static_cast<std::uint32_t>(byte_ids_[static_cast<unsigned char>(byte)]));
          lengths.push_back(1);
        }
        continue;
      }
    }
    if (!unk_id_) continue;  // no unk token: the character is dropped (Rust's and the JS reference's behaviour)
    if (unknown && settings_.fuse_unk) {
      unknown->second += static_cast<std::uint32_t>(length);
    } else {
      flush_unknown();
      unknown = std::make_pair(*unk_id_, static_cast<std::uint32_t>(length));
    }
  }
  flush_unknown();
}

std::vector<std::uint32_t> BpeModel::merge_word(std::string_view word) const {
  std::vector<std::uint32_t> ids;
  std::vector<std::uint32_t> lengths;
  ids.reserve(word.size());
  lengths.reserve(word.size());
  initial_symbols(word, ids, lengths);
  const std::size_t count = ids.size();
  if (count < 2) return ids;
  // Symbols as a doubly linked list over the initial positions; a merged-away symbol has length 0.
  std::vector<std::int32_t> previous(count), next(count);
  for (std::size_t i = 0; i < count; ++i) {
    previous[i] = static_cast<std::int32_t>(i) - 1;
    next[i] = i + 1 < count ? static_cast<std::int32_t>(i + 1) : -1;
  }
  std::vector<PendingMerge> storage;
  storage.reserve(count);
  std::priority_queue<PendingMerge, std::vector<PendingMerge>, std::greater<>> queue(std::greater<>{},
                                                                                     std::move(storage));
  const auto push_pair = [&](std::int32_t position) {
    if (position < 0 || next[position] < 0) return;
    if (const auto merge = find_merge(ids[position], ids[next[position]])) {
      queue.push({merge->rank, static_cast<std::uint32_t>(position), merge->new_id});
    }
  };
  for (std::size_t i = 0; i + 1 < count; ++i) push_pair(static_cast<std::int32_t>(i));
  while (!queue.empty()) {
    const PendingMerge top = queue.top();
    queue.pop();
    const std::int32_t position = static_cast<std::int32_t>(top.position);
    const std::int32_t right = next[position];
    if (lengths[position] == 0 || right < 0) continue;
    // Stale when either symbol changed since the merge was queued: the pair's merge must be this one.
    const auto current = find_merge(ids[position], ids[right]);
    if (!current || current->rank != top.rank) continue;
    ids[position] = top.new_id;
    lengths[position] += lengths[right];
    lengths[right] = 0;
    next[position] = next[right];
    if (next[position] >= 0) previous[next[position]] = position;
    push_pair(previous[position]);
    push_pair(position);
  }
  std::vector<std::uint32_t> merged;
  for (std::int32_t i = 0; i >= 0; i = next[i]) merged.push_back(ids[i]);
  return merged;
}

void BpeModel::encode_word(std::string_view word, std::vector<std::int64_t>& out) const {
  if (word.empty()) return;
  if (settings_.ignore_merges) {
    if (const auto id = vocabulary_.find(word)) {
      out.push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() < kCachedWordBytes;
  CacheShard* shard = nullptr;
  std::string key;
  if (cacheable) {
    key.assign(word);
    shard = &cache_[std::hash<std::string>{}(key) % kCacheShards];
    const std::lock_guard<std::mutex> lock(shard->mutex);
    const auto found = shard->words.find(key);
    if (found != shard->words.end()) {
      out.insert(out.end(), found->second.begin(), found->second.end());
      return;
    }
  }
  std::vector<std::uint32_t> ids = merge_word(word);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    const std::lock_guard<std::mutex> lock(shard->mutex);
    if (shard->words.size() < kWordsPerShard) shard->words.emplace(std::move(key), std::move(ids));
  }
}

}  // namespace ladle::text::hf
