// ModelChatTemplate: a model's own chat template (the Jinja `chat_template` of its tokenizer_config.json, or its
// chat_template.jinja) rendering conversations as transformers' apply_chat_template does, and the loss mask
// that trains exactly the assistant replies with the end-of-turn token closing each.
//
// Rendering: the template gets what apply_chat_template gives it: the tokenizer's special tokens map
// (bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token when set;
// additional_special_tokens), then messages ([{role, content}]), tools = None, documents = None and
// add_generation_prompt.
//
// Finding the replies: the conversation is rendered twice, as it is and with every message's content replaced
// by a marker (a private-use character and the message's index). The marked output is the template's own text
// with markers where the contents go; the real output is matched against it piece by piece, which gives each
// content's span as the template wrote it (trimmed, say). A reply's trained span is its content plus the
// end-of-turn text right after it: optional whitespace and the tokenizer_config's eos_token ("<|im_end|>" for
// Qwen3, "<|eot_id|>" for Llama 3, "<end_of_turn>" for Gemma 3, "<｜end▁of▁sentence｜>" for DeepSeek V3). What
// the template writes after that (Qwen's "\n") opens the next turn and is not trained, as in ChatTemplate.
// Text the template writes between the generation prompt and the content (Qwen3's empty <think> block) is not
// trained either: at inference it follows the prompt as the model writes it, but it is template, not reply.
//
// The segments (template text, contents, replies with their end of turn) are encoded one by one, so every span
// boundary is a token boundary (the generation prompt is encoded on its own at inference too).
//
// A template whose text around a message depends on that message's content (Qwen3 splitting a reply at
// "</think>") cannot be matched that way; such a conversation is an error naming the message.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/text/chat_format.h"
#include "lib/text/chat_segments.h"
#include "lib/text/jinja/template.h"

namespace ladle::text {

struct ModelChatTemplateOptions {
  bool train_on_all_tokens = false;                                // every token is a target, not only replies
  std::size_t max_length = 0;                                      // the most tokens of an example (0 = no limit)
  TruncationPolicy truncation = TruncationPolicy::shorten_prompt;  // how a longer example is cut
};

class ModelChatTemplate final : public ChatFormat {
 public:
  // source: the Jinja template; special_tokens: the variables apply_chat_template passes besides the
  // conversation (bos_token, eos_token, ...); end_of_turn: the text that closes a reply (the eos_token). Throws
  // jinja::TemplateError (naming `name` and the line) for a template the interpreter cannot parse.
  ModelChatTemplate(const std::string& source, jinja::Dict special_tokens, std::string end_of_turn,
                    ModelChatTemplateOptions options = {}, std::string name = "chat_template");

  // The text of a conversation, as apply_chat_template(messages, tokenize=False, add_generation_prompt) gives
  // it. Throws jinja::TemplateError for a template error (raise_exception, say).
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // The conversation as segments: template text (header), message contents (prompt) and replies with their
  // end of turn (response). Throws ladle::Error when a reply cannot be found in the output, or is not
  // followed by the end-of-turn text.
  std::vector<ChatSegment> segments(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  TokenizedExample encode(const std::vector<ChatMessage>& messages, const Tokenizer& tokenizer) const override;
  std::vector<std::int64_t> encode_prompt(const std::vector<ChatMessage>& messages,
                                          const Tokenizer& tokenizer) const override;
  std::optional<std::int64_t> end_of_turn_id(const Tokenizer& tokenizer) const override;
  std::size_t max_length() const override { return options_.max_length; }

  const std::string& end_of_turn() const { return end_of_turn_; }
  const ModelChatTemplateOptions& options() const { return options_; }

 private:
  jinja::Template template_;
  jinja::Dict special_tokens_;
  std::string end_of_turn_;
  ModelChatTemplateOptions options_;
};

// The chat template of a Hugging Face tokenizer folder: chat_template.jinja when present, else the
// chat_template of tokenizer_config.json (a string, or a list of {name, template} whose "default" entry is
// used); its special tokens and eos_token from tokenizer_config.json. nullptr when the folder has neither.
// Throws ladle::Error naming the file for an unreadable config, a missing eos_token, or a template the
// interpreter cannot parse.
std::shared_ptr<const ModelChatTemplate> read_model_chat_template(const std::filesystem::path& folder,
                                                                  ModelChatTemplateOptions options = {});
// The same from the texts of tokenizer_config.json and, when the folder has one, chat_template.jinja; `folder`
// names the files in messages and nothing is read.
std::shared_ptr<const ModelChatTemplate> parse_model_chat_template(const std::string& tokenizer_config,
                                                                   const std::optional<std::string>& chat_template_jinja,
                                                                   const std::filesystem::path& folder,
                                                                   ModelChatTemplateOptions options = {});

// The template source alone: chat_template.jinja when present, else tokenizer_config.json's chat_template (as
// above); nullopt when the folder has neither. Throws ladle::Error naming the file for one that cannot be read.
std::optional<std::string> read_chat_template_source(const std::filesystem::path& folder);

// The variables apply_chat_template gives a template besides the conversation: PreTrainedTokenizerBase's
// special_tokens_map of a tokenizer_config.json (bos_token, eos_token, ... when set; additional_special_tokens).
jinja::Dict chat_template_special_tokens(const nlohmann::json& tokenizer_config);

}  // namespace ladle::text
