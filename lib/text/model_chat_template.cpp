#include "lib/text/model_chat_template.h"

#include <map>

#include "lib/io/json_file.h"
#include "lib/io/json_member.h"
#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"
#include "lib/text/jinja/python_str.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

// U+E000 and U+E001 (private use) around a message's index mark where its content goes in the marked render.
constexpr const char* kMarkerOpen = "\xEE\x80\x80";
constexpr const char* kMarkerClose = "\xEE\x80\x81";
constexpr std::size_t kMarkerBytes = 3;

std::string marker(std::size_t index) { return kMarkerOpen + std::to_string(index) + kMarkerClose; }

jinja::Value message_list(const std::vector<ChatMessage>& messages, bool marked) {
  jinja::List list;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    jinja::Dict message;
    message.set("role", jinja::Value(role_name(messages[i].role)));
    message.set("content", jinja::Value(marked ? marker(i) : messages[i].content));
    list.emplace_back(std::move(message));
  }
  return jinja::Value(std::move(list));
}

// The marked render split at its markers: texts[0], contents[0], texts[1], ..., texts.back().
struct MarkedOutput {
  std::vector<std::string> texts;     // the template's own text between the contents
  std::vector<std::size_t> contents;  // which message's content goes between texts[k] and texts[k + 1]
};

MarkedOutput split_at_markers(const std::string& marked, std::size_t message_count) {
  MarkedOutput out;
  std::vector<bool> seen(message_count, false);
  std::size_t pos = 0;
  while (true) {
    const auto open = marked.find(kMarkerOpen, pos);
    if (open == std::string::npos) break;
    const auto close = marked.find(kMarkerClose, open + kMarkerBytes);
    const std::string digits = close == std::string::npos ? "" : marked.substr(open + kMarkerBytes, close - open - kMarkerBytes);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(digits) >= message_count) {
      throw Error("chat template: the template changed a message's content in a way ladle cannot follow");
    }
    const auto index = std::stoul(digits);
    if (seen[index]) throw Error("chat template: message " + std::to_string(index) + "'s content appears twice in the output");
    seen[index] = true;
    out.texts.push_back(marked.substr(pos, open - pos));
    out.contents.push_back(index);
    pos = close + kMarkerBytes;
  }
  out.texts.push_back(marked.substr(pos));
  return out;
}

bool matches_at(const std::string& text, std::size_t pos, const std::string& part) {
  return pos <= text.size() && text.compare(pos, part.size(), part) == 0;
}

// Where content k ends in the real output, given that it starts at pos and texts[k + 1] follows it. The
// content as written (or stripped, as the trim filter leaves it) is tried first, so that a content containing
// the text after it is still found; else the next occurrence of that text.
std::size_t content_end(const std::string& output, std::size_t pos, const std::string& content, const std::string& after,
                        bool last) {
  for (const auto& candidate : {content, jinja::python_strip(content, std::nullopt, jinja::StripSide::both)}) {
    const auto end = pos + candidate.size();
    if (matches_at(output, pos, candidate) && matches_at(output, end, after) &&
        (!last || end + after.size() == output.size())) {
      return end;
    }
  }
  if (last) {
    if (output.size() >= pos + after.size() && matches_at(output, output.size() - after.size(), after)) {
      return output.size() - after.size();
    }
    return std::string::npos;
  }
  if (after.empty()) return std::string::npos;
  return output.find(after, pos);
}

}  // namespace

ModelChatTemplate::ModelChatTemplate(const std::string& source, jinja::Dict special_tokens, std::string end_of_turn,
                                     ModelChatTemplateOptions options, std::string name)
    : template_(source, std::move(name)),
      special_tokens_(std::move(special_tokens)),
      end_of_turn_(std::move(end_of_turn)),
      options_(options) {
  if (end_of_turn_.empty()) throw Error(template_.name() + ": the end-of-turn text must not be empty");
}

std::string ModelChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  jinja::Dict variables = special_tokens_;
  variables.set("messages", message_list(messages, false));
  variables.set("tools", jinja::Value(jinja::None{}));
  variables.set("documents", jinja::Value(jinja::None{}));
  variables.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  return template_.render(variables);
}

std::vector<ChatSegment> ModelChatTemplate::segments(const std::vector<ChatMessage>& messages,
                                                     bool add_generation_prompt) const {
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].content.find(kMarkerOpen) != std::string::npos) {
      throw Error("chat template: message " + std::to_string(i) + " contains the private-use character U+E000");
    }
  }
  const std::string output = render(messages, add_generation_prompt);
  jinja::Dict variables = special_tokens_;
  variables.set("messages", message_list(messages, true));
  variables.set("tools", jinja::Value(jinja::None{}));
  variables.set("documents", jinja::Value(jinja::None{}));
  variables.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  const MarkedOutput marked = split_at_markers(template_.render(variables), messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role == ChatRole::assistant &&
        std::find(marked.contents.begin(), marked.contents.end(), i) == marked.contents.end()) {
      throw Error("chat template: assistant message " + std::to_string(i) + " does not appear in the template's output");
    }
  }

  const bool all = options_.train_on_all_tokens;
  // The template text that did not match: texts[k], between contents k - 1 and k (before the first, after the last).
  const auto mismatch = [&marked](std::size_t k) {
    const auto name = [&marked](std::size_t c) { return "message " + std::to_string(marked.contents[c]) + "'s"; };
    const std::string where = marked.contents.empty() ? "of the conversation"
                              : k == 0                ? "before " + name(0) + " content"
                              : k == marked.contents.size() ? "after " + name(k - 1) + " content"
                                                            : "between " + name(k - 1) + " and " + name(k) + " content";
    return Error("chat template: the template writes different text " + where +
                 " for the real contents than for placeholders (the text depends on a content), so the replies' "
                 "spans cannot be found");
  };
  if (!matches_at(output, 0, marked.texts[0])) throw mismatch(0);
  std::vector<ChatSegment> segments;
  segments.push_back({SegmentKind::header, marked.texts[0], all});
  std::size_t pos = marked.texts[0].size();
  for (std::size_t k = 0; k < marked.contents.size(); ++k) {
    const std::size_t index = marked.contents[k];
    std::string after = marked.texts[k + 1];
    const bool last = k + 1 == marked.contents.size();
    const auto end = content_end(output, pos, messages[index].content, after, last);
    if (end == std::string::npos || end < pos) throw mismatch(k + 1);
    ChatSegment content{SegmentKind::prompt, output.substr(pos, end - pos), all};
    if (messages[index].role == ChatRole::assistant) {
      // The end of turn: optional whitespace, then the end-of-turn text, moves from the template text into the reply.
      const auto eot = after.find_first_not_of(" \t\n\r");
      if (eot == std::string::npos || !matches_at(after, eot, end_of_turn_)) {
        throw Error("chat template: the template does not close assistant message " + std::to_string(index) +
                    " with the end-of-turn text '" + end_of_turn_ + "' (it writes '" + after.substr(0, 40) + "')");
      }
      content.kind = SegmentKind::response;
      content.trained = true;
      content.text += after.substr(0, eot + end_of_turn_.size());
      after.erase(0, eot + end_of_turn_.size());
    }
    segments.push_back(std::move(content));
    segments.push_back({SegmentKind::header, after, all});
    pos = end + marked.texts[k + 1].size();
  }
  if (pos != output.size()) throw mismatch(marked.contents.size());
  std::vector<ChatSegment> nonempty;
  for (auto& segment : segments) {
    if (!segment.text.empty()) nonempty.push_back(std::move(segment));
  }
  return nonempty;
}

TokenizedExample ModelChatTemplate::encode(const std::vector<ChatMessage>& messages, const Tokenizer& tokenizer) const {
  if (messages.empty() || messages.back().role != ChatRole::assistant) {
    throw Error("chat template: a training conversation must end with an assistant message");
  }
  return encode_segments(segments(messages, false), tokenizer, options_.max_length, options_.truncation);
}

std::vector<std::int64_t> ModelChatTemplate::encode_prompt(const std::vector<ChatMessage>& messages,
                                                           const Tokenizer& tokenizer) const {
  if (!messages.empty() && messages.back().role == ChatRole::assistant) {
    throw Error("chat template: a generation prompt must not end with an assistant message");
  }
  return encode_prompt_segments(segments(messages, true), tokenizer, options_.max_length);
}

std::optional<std::int64_t> ModelChatTemplate::end_of_turn_id(const Tokenizer& tokenizer) const {
  const auto ids = tokenizer.encode(end_of_turn_);
  if (ids.empty()) return std::nullopt;
  return ids.back();
}

namespace {

// A special token as tokenizer_config.json writes it: a string, or an AddedToken object with its content.
std::optional<std::string> token_text(const nlohmann::json& token) {
  if (token.is_string()) return token.get<std::string>();
  if (token.is_object() && token.contains("content") && token["content"].is_string()) {
    return token["content"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<std::string> template_source(const nlohmann::json& config, const std::filesystem::path& config_path) {
  if (!config.contains("chat_template") || config["chat_template"].is_null()) return std::nullopt;
  const auto& value = config["chat_template"];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    for (const auto& entry : value) {
      if (io::json_member<std::string>(entry, "name") == "default" && io::json_member<std::string>(entry, "template")) {
        return *io::json_member<std::string>(entry, "template");
      }
    }
  }
  throw Error(config_path.string() + ": chat_template: expected a string or a list of {name, template} with a "
                                     "\"default\" entry");
}

}  // namespace

std::shared_ptr<const ModelChatTemplate> read_model_chat_template(const std::filesystem::path& folder,
                                                                  ModelChatTemplateOptions options) {
  const auto config_path = folder / "tokenizer_config.json";
  std::error_code error;
  if (!std::filesystem::is_regular_file(config_path, error)) return nullptr;
  const std::string config_text = io::read_text_file(config_path, io::kMaxJsonFileBytes);
  const auto jinja_path = folder / "chat_template.jinja";
  std::optional<std::string> jinja;
  if (std::filesystem::is_regular_file(jinja_path, error)) jinja = io::read_text_file(jinja_path, io::kNoSizeLimit);
  return parse_model_chat_template(config_text, jinja, folder, options);
}

std::optional<std::string> read_chat_template_source(const std::filesystem::path& folder) {
  std::error_code error;
  const auto jinja_path = folder / "chat_template.jinja";
  if (std::filesystem::is_regular_file(jinja_path, error)) return io::read_text_file(jinja_path, io::kNoSizeLimit);
  const auto config_path = folder / "tokenizer_config.json";
  if (!std::filesystem::is_regular_file(config_path, error)) return std::nullopt;
  return template_source(io::read_json_file(config_path, 64), config_path);
}

jinja::Dict chat_template_special_tokens(const nlohmann::json& config) {
  // PreTrainedTokenizerBase.special_tokens_map: the named tokens that are set, then the additional ones.
  jinja::Dict special_tokens;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    if (!config.contains(key)) continue;
    if (const auto text = token_text(config[key])) special_tokens.set(key, jinja::Value(*text));
  }
  if (config.contains("additional_special_tokens") && config["additional_special_tokens"].is_array() &&
      !config["additional_special_tokens"].empty()) {
    jinja::List additional;
    for (const auto& token : config["additional_special_tokens"]) {
      if (const auto text = token_text(token)) additional.emplace_back(*text);
    }
    special_tokens.set("additional_special_tokens", jinja::Value(std::move(additional)));
  }
  return special_tokens;
}

std::shared_ptr<const ModelChatTemplate> parse_model_chat_template(const std::string& tokenizer_config,
                                                                   const std::optional<std::string>& chat_template_jinja,
                                                                   const std::filesystem::path& folder,
                                                                   ModelChatTemplateOptions options) {
  const auto config_path = folder / "tokenizer_config.json";
  const nlohmann::json config = io::parse_json_strict(tokenizer_config, config_path.string(), 64);
  std::optional<std::string> source = chat_template_jinja;
  std::string name = (folder / "chat_template.jinja").string();
  if (!source) {
    source = template_source(config, config_path);
    name = config_path.string() + " chat_template";
  }
  if (!source) return nullptr;

  jinja::Dict special_tokens = chat_template_special_tokens(config);
  const jinja::Value* eos = special_tokens.find("eos_token");
  if (eos == nullptr) {
    throw Error(config_path.string() + ": eos_token: expected the token that ends an assistant turn (the chat "
                                       "template's replies are trained up to it)");
  }
  return std::make_shared<const ModelChatTemplate>(*source, std::move(special_tokens), eos->as_string(), options,
                                                   std::move(name));
}

}  // namespace ladle::text
