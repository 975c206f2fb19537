// ChatFormat: how a conversation becomes token ids and loss labels for training and a prompt for generation.
// Two implementations: ChatTemplate, Tulu v2's format, for models that bring no template of their own, and
// ModelChatTemplate, the Jinja chat_template of the model's tokenizer_config.json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "lib/text/chat_message.h"
#include "lib/text/tokenized_example.h"
#include "lib/text/tokenizer.h"

namespace ladle::text {

class ChatFormat {
 public:
  virtual ~ChatFormat() = default;

  // Token ids and labels of a training conversation (ending with an assistant reply): the labels are the ids of
  // the replies and of the end-of-turn token closing each, kIgnoreLabel elsewhere (unless every token is
  // trained). Task and source index are left for the caller. Throws ladle::Error for a conversation the format
  // cannot write.
  virtual TokenizedExample encode(const std::vector<ChatMessage>& messages, const Tokenizer& tokenizer) const = 0;
  // Token ids of a generation prompt: the messages (not ending with a reply), then what opens the assistant's
  // turn.
  virtual std::vector<std::int64_t> encode_prompt(const std::vector<ChatMessage>& messages,
                                                  const Tokenizer& tokenizer) const = 0;
  // The id closing every reply (a complete example's last label), or nullopt when the tokenizer lacks it.
  virtual std::optional<std::int64_t> end_of_turn_id(const Tokenizer& tokenizer) const = 0;
  // The most tokens of an example (0: no limit).
  virtual std::size_t max_length() const = 0;
};

}  // namespace ladle::text
