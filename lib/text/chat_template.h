// ChatTemplate: turns a conversation into token ids and loss labels, so that the loss covers exactly the
// assistant's replies (and the eos closing each), as in Tulu v2's supervised fine-tuning.
//
// The format is Tulu v2's (open-instruct, finetune.py encode_with_messages_format / _concat_messages, the format
// the Tulu 2 model cards give under "Input Format"):
//
//   <s><|system|>\n{system}\n<|user|>\n{user}\n<|assistant|>\n{reply}</s>\n<|user|>\n{user}\n<|assistant|>\n{reply}</s>
//
// <s> and </s> are the tokenizer's bos and eos ids (never text); every content is stripped of surrounding
// whitespace first; nothing follows the last eos (open-instruct strips the final newline). A prompt for
// generation ends with the header "\n<|assistant|>\n", which the model continues with its reply.
//
// The text is rendered into segments (bos, role headers, prompt contents, replies, eos; chat_segments.h) and each
// segment is encoded on its own, so a segment boundary is always a token boundary and the mask is exact by
// construction.
// open-instruct instead encodes the whole text and finds the boundaries by encoding prefixes. The two differ in
// one place: open-instruct also trains on the newline after a non-final reply's eos; here it belongs to the next
// header and is not a target (after eos a model stops, so that newline is never generated).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/text/chat_format.h"
#include "lib/text/chat_message.h"
#include "lib/text/chat_segments.h"
#include "lib/text/tokenized_example.h"
#include "lib/text/tokenizer.h"

namespace ladle::text {

struct ChatTemplateOptions {
  std::string system_marker = "<|system|>";        // opens a system message (Tulu v2)
  std::string user_marker = "<|user|>";            // opens a user message
  std::string assistant_marker = "<|assistant|>";  // opens an assistant reply
  bool add_bos = true;                             // begin every sequence with the tokenizer's bos id
  bool train_on_all_tokens = false;                // every token is a target, not only replies and their eos
  std::size_t max_length = 0;                      // the most tokens of an example (0 = no limit)
  TruncationPolicy truncation = TruncationPolicy::shorten_prompt;  // how a longer example is cut
};

class ChatTemplate final : public ChatFormat {
 public:
  explicit ChatTemplate(ChatTemplateOptions options = {});

  const ChatTemplateOptions& options() const { return options_; }

  // The segments of a conversation for training. Throws ladle::Error when it is empty, does not end with an
  // assistant message, or has a blank content.
  std::vector<ChatSegment> render(const std::vector<ChatMessage>& messages) const;
  // The segments of a prompt for generation: the messages, then the assistant header. Throws ladle::Error when
  // messages is empty, ends with an assistant message, or has a blank content.
  std::vector<ChatSegment> render_prompt(const std::vector<ChatMessage>& messages) const;
  // The segments as one string, with bos and eos spelled as given (for display and logs).
  static std::string to_text(const std::vector<ChatSegment>& segments, const std::string& bos = "<s>",
                             const std::string& eos = "</s>");

  // Token ids and labels of a conversation (render(), each segment encoded, truncated to max_length). Task and
  // source index are left for the caller. Throws ladle::Error when the tokenizer lacks an eos id, or a bos id
  // with add_bos.
  TokenizedExample encode(const std::vector<ChatMessage>& messages, const Tokenizer& tokenizer) const override;
  // Token ids of a generation prompt (render_prompt()). When max_length is set, prompt contents are shortened
  // from their end to fit; throws ladle::Error when bos and headers alone do not fit.
  std::vector<std::int64_t> encode_prompt(const std::vector<ChatMessage>& messages,
                                          const Tokenizer& tokenizer) const override;
  // The tokenizer's eos id, which closes every reply.
  std::optional<std::int64_t> end_of_turn_id(const Tokenizer& tokenizer) const override { return tokenizer.eos_id(); }
  std::size_t max_length() const override { return options_.max_length; }

 private:
  std::vector<ChatSegment> render_messages(const std::vector<ChatMessage>& messages) const;
  const std::string& marker(ChatRole role) const;

  ChatTemplateOptions options_;
};

}  // namespace ladle::text
