#include "lib/text/chat_template.h"

#include <algorithm>

#include "lib/text/whitespace.h"
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

std::vector<EncodedSegment> encode_segments(const std::vector<ChatSegment>& segments, const Tokenizer& tokenizer) {
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

ChatTemplate::ChatTemplate(ChatTemplateOptions options) : options_(std::move(options)) {
  for (const auto* marker : {&options_.system_marker, &options_.user_marker, &options_.assistant_marker}) {
    if (marker->empty()) throw Error("chat template: role markers must not be empty");
  }
}

const std::string& ChatTemplate::marker(ChatRole role) const {
  switch (role) {
    case ChatRole::system: return options_.system_marker;
    case ChatRole::user: return options_.user_marker;
    case ChatRole::assistant: return options_.assistant_marker;
  }
  throw Error("chat template: unknown role");
}

std::vector<ChatSegment> ChatTemplate::render_messages(const std::vector<ChatMessage>& messages) const {
  if (messages.empty()) throw Error("chat template: the conversation has no messages");
  const bool all = options_.train_on_all_tokens;
  std::vector<ChatSegment> segments;
  if (options_.add_bos) segments.push_back({SegmentKind::bos, "", all});
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const auto& message = messages[i];
    auto content = strip_whitespace(message.content);
    if (content.empty()) {
      throw Error("chat template: message " + std::to_string(i) + " (" + role_name(message.role) + ") is blank");
    }
    // The newline that ends the previous message opens this header (see the header comment).
    segments.push_back({SegmentKind::header, (i > 0 ? "\n" : "") + marker(message.role) + "\n", all});
    if (message.role == ChatRole::assistant) {
      segments.push_back({SegmentKind::response, std::move(content), true});
      segments.push_back({SegmentKind::eos, "", true});
    } else {
      segments.push_back({SegmentKind::prompt, std::move(content), all});
    }
  }
  return segments;
}

std::vector<ChatSegment> ChatTemplate::render(const std::vector<ChatMessage>& messages) const {
  auto segments = render_messages(messages);
  if (messages.back().role != ChatRole::assistant) {
    throw Error(std::string("chat template: a training conversation must end with an assistant message, not ") +
                role_name(messages.back().role));
  }
  return segments;
}

std::vector<ChatSegment> ChatTemplate::render_prompt(const std::vector<ChatMessage>& messages) const {
  auto segments = render_messages(messages);
  if (messages.back().role == ChatRole::assistant) {
    throw Error("chat template: a generation prompt must not end with an assistant message");
  }
  segments.push_back({SegmentKind::header, "\n" + options_.assistant_marker + "\n", options_.train_on_all_tokens});
  return segments;
}

std::string ChatTemplate::to_text(const std::vector<ChatSegment>& segments, const std::string& bos,
                                  const std::string& eos) {
  std::string text;
  for (const auto& segment : segments) {
    if (segment.kind == SegmentKind::bos) {
      text += bos;
    } else if (segment.kind == SegmentKind::eos) {
      text += eos;
    } else {
      text += segment.text;
    }
  }
  return text;
}

TokenizedExample ChatTemplate::encode(const std::vector<ChatMessage>& messages, const Tokenizer& tokenizer) const {
  auto segments = encode_segments(render(messages), tokenizer);
  std::size_t keep = total_tokens(segments);
  if (options_.max_length > 0 && keep > options_.max_length) {
    auto excess = keep - options_.max_length;
    if (options_.truncation == TruncationPolicy::shorten_prompt) excess = shorten_prompts(segments, excess);
    keep = total_tokens(segments) - excess;
  }
  TokenizedExample example;
  for (const auto& segment : segments) {
    for (const auto id : segment.ids) {
      example.input_ids.push_back(id);
      example.labels.push_back(segment.trained ? id : kIgnoreLabel);
    }
  }
  example.input_ids.resize(keep);
  example.labels.resize(keep);
  return example;
}

std::vector<std::int64_t> ChatTemplate::encode_prompt(const std::vector<ChatMessage>& messages,
                                                      const Tokenizer& tokenizer) const {
  auto segments = encode_segments(render_prompt(messages), tokenizer);
  const auto total = total_tokens(segments);
  if (options_.max_length > 0 && total > options_.max_length) {
    if (shorten_prompts(segments, total - options_.max_length) > 0) {
      throw Error("chat template: the prompt's bos and role headers alone exceed max_length " +
                  std::to_string(options_.max_length) + " tokens");
    }
  }
  std::vector<std::int64_t> ids;
  for (const auto& segment : segments) ids.insert(ids.end(), segment.ids.begin(), segment.ids.end());
  return ids;
}

}  // namespace ladle::text
