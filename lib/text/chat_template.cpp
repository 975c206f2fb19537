#include "lib/text/chat_template.h"

#include "lib/text/whitespace.h"
#include "lib/util/error.h"

namespace ladle::text {

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
  return encode_segments(render(messages), tokenizer, options_.max_length, options_.truncation);
}

std::vector<std::int64_t> ChatTemplate::encode_prompt(const std::vector<ChatMessage>& messages,
                                                      const Tokenizer& tokenizer) const {
  return encode_prompt_segments(render_prompt(messages), tokenizer, options_.max_length);
}

}  // namespace ladle::text
