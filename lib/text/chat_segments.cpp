#include "lib/text/chat_segments.h"

#include <algorithm>

#include "lib/util/error.h"

namespace ladle::text {
namespace {

// One segment's token ids.
struct EncodedSegment {
  SegmentKind kind;
  bool trained;
  std::vector<std::int64_t> ids;
};

std::int64_t special_id(const Tokenizer& tokenizer, SegmentKind kind) {
  const auto id = kind == SegmentKind::bos ? tokenizer.bos_id() : tokenizer.eos_id();
  if (!id) {
    throw Error(std::string("chat template: the tokenizer has no ") + (kind == SegmentKind::bos ? "bos" : "eos") +
                " token" + (kind == SegmentKind::bos ? " (or set add_bos = false)" : ""));
  }
  return *id;
}

std::vector<EncodedSegment> encode_each(const std::vector<ChatSegment>& segments, const Tokenizer& tokenizer) {
  std::vector<EncodedSegment> encoded;
  encoded.reserve(segments.size());
  for (const auto& segment : segments) {
    EncodedSegment run{segment.kind, segment.trained, {}};
    if (segment.kind == SegmentKind::bos || segment.kind == SegmentKind::eos) {
      run.ids.push_back(special_id(tokenizer, segment.kind));
    } else {
      run.ids = tokenizer.encode(segment.text);
    }
    encoded.push_back(std::move(run));
  }
  return encoded;
}

std::size_t total_tokens(const std::vector<EncodedSegment>& segments) {
  std::size_t total = 0;
  for (const auto& segment : segments) total += segment.ids.size();
  return total;
}

// Removes up to `excess` tokens from the ends of prompt contents, the last one first; returns what is left over.
std::size_t shorten_prompts(std::vector<EncodedSegment>& segments, std::size_t excess) {
  for (auto it = segments.rbegin(); it != segments.rend() && excess > 0; ++it) {
    if (it->kind != SegmentKind::prompt) continue;
    const auto cut = std::min(excess, it->ids.size());
    it->ids.resize(it->ids.size() - cut);
    excess -= cut;
  }
  return excess;
}

}  // namespace

TokenizedExample encode_segments(const std::vector<ChatSegment>& segments, const Tokenizer& tokenizer,
                                 std::size_t max_length, TruncationPolicy policy) {
  auto encoded = encode_each(segments, tokenizer);
  std::size_t keep = total_tokens(encoded);
  if (max_length > 0 && keep > max_length) {
    auto excess = keep - max_length;
    if (policy == TruncationPolicy::shorten_prompt) excess = shorten_prompts(encoded, excess);
    keep = total_tokens(encoded) - excess;
  }
  TokenizedExample example;
  for (const auto& segment : encoded) {
    for (const auto id : segment.ids) {
      example.input_ids.push_back(id);
      example.labels.push_back(segment.trained ? id : kIgnoreLabel);
    }
  }
  example.input_ids.resize(keep);
  example.labels.resize(keep);
  return example;
}

std::vector<std::int64_t> encode_prompt_segments(const std::vector<ChatSegment>& segments, const Tokenizer& tokenizer,
                                                 std::size_t max_length) {
  auto encoded = encode_each(segments, tokenizer);
  const auto total = total_tokens(encoded);
  if (max_length > 0 && total > max_length) {
    if (shorten_prompts(encoded, total - max_length) > 0) {
      throw Error("chat template: the prompt's bos and role headers alone exceed max_length " +
                  std::to_string(max_length) + " tokens");
    }
  }
  std::vector<std::int64_t> ids;
  for (const auto& segment : encoded) ids.insert(ids.end(), segment.ids.begin(), segment.ids.end());
  return ids;
}

}  // namespace ladle::text
