#include "lib/merge/chat_template_choice.h"

#include <algorithm>
#include <map>

#include "lib/io/json_file.h"
#include "lib/log/log.h"
#include "lib/text/jinja/python_str.h"
#include "lib/text/jinja/template.h"
#include "lib/text/model_chat_template.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

// Each format as its authors define it; a special token the tokenizer does not set renders as nothing.
// clang-format off: one line of template per line of source.
const std::map<std::string, std::string>& named_templates() {
  static const std::map<std::string, std::string> templates = {
      // Stanford Alpaca: an optional preamble, then "### Instruction:" and "### Response:" blocks.
      {"alpaca",
       "{%- for message in messages %}\n"
       "{%- if message['role'] == 'system' %}{{ message['content'] | trim + '\\n\\n' }}\n"
       "{%- elif message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] | trim + '\\n\\n' }}\n"
       "{%- elif message['role'] == 'assistant' %}{{ '### Response:\\n' + message['content'] | trim + '\\n\\n' }}\n"
       "{%- endif %}\n"
       "{%- endfor %}\n"
       "{%- if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}"},
      // OpenAI's ChatML: <|im_start|>ROLE\nCONTENT<|im_end|>\n per message.
      {"chatml",
       "{%- for message in messages %}"
       "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
       "{%- endfor %}\n"
       "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"},
      // LG's EXAONE 3: [|ROLE|]CONTENT, a user turn closed by a newline, others by [|endofturn|]; an empty system
      // turn first when the conversation has none.
      {"exaone",
       "{%- for message in messages %}\n"
       "{%- if loop.first and message['role'] != 'system' %}{{ '[|system|][|endofturn|]\\n' }}{% endif %}\n"
       "{{- '[|' + message['role'] + '|]' + message['content'] }}\n"
       "{%- if message['role'] == 'user' %}{{ '\\n' }}{% else %}{{ '[|endofturn|]\\n' }}{% endif %}\n"
       "{%- endfor %}\n"
       "{%- if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}"},
      // Meta's Llama 3: the bos token, then <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>.
      {"llama3",
       "{{- bos_token if bos_token is defined else '' }}\n"
       "{%- for message in messages %}"
       "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + "
       "'<|eot_id|>' }}"
       "{%- endfor %}\n"
       "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"},
      // Mistral's [INST] format: the bos token, user turns in [INST] ... [/INST] (a system message opens the
      // first), each reply closed by the eos token; user and assistant alternate.
      {"mistral",
       "{%- if messages and messages[0]['role'] == 'system' %}\n"
       "{%- set system = messages[0]['content'] + '\\n\\n' %}{%- set turns = messages[1:] %}\n"
       "{%- else %}{%- set system = '' %}{%- set turns = messages %}{%- endif %}\n"
       "{{- bos_token if bos_token is defined else '' }}\n"
       "{%- for message in turns %}\n"
       "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
       "{{- raise_exception('mistral: after the optional system message, user and assistant must alternate') }}"
       "{%- endif %}\n"
       "{%- if message['role'] == 'user' %}{{- ' [INST] ' + (system if loop.first else '') + message['content'] + "
       "' [/INST]' }}\n"
       "{%- else %}{{- ' ' + message['content'] + (eos_token if eos_token is defined else '') }}{%- endif %}\n"
       "{%- endfor %}"},
  };
  return templates;
}
// clang-format on

std::string joined_names() {
  std::string text;
  for (const auto& name : chat_template_names()) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// mergekit's auto: the most common template among the models (Counter.most_common(1): the first met wins a tie).
std::optional<std::string> most_common_template(const std::vector<fs::path>& folders) {
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& folder : folders) {
    std::optional<std::string> source;
    try {
      source = text::read_chat_template_source(folder);
    } catch (const Error& e) {
      LADLE_LOG(warning) << "chat_template auto: " << e.what() << "; that model's template is not counted";
    }
    if (!source) continue;
    const std::string stripped = text::jinja::python_strip(*source, std::nullopt, text::jinja::StripSide::both);
    if (stripped.empty()) continue;
    auto found = std::find_if(counts.begin(), counts.end(), [&](const auto& entry) { return entry.first == stripped; });
    if (found == counts.end()) {
      counts.emplace_back(stripped, 1);
    } else {
      ++found->second;
    }
  }
  if (counts.empty()) return std::nullopt;
  const auto best =
      std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return best->first;
}

// Renders the template on a short conversation, as apply_chat_template would with the output's special tokens.
void require_renders(const MergeConfig& config, const std::string& source, const std::optional<fs::path>& folder) {
  const std::string where = config.where(config.chat_template_line) + ": chat_template: ";
  text::jinja::Dict variables;
  std::error_code error;
  if (folder && fs::is_regular_file(*folder / "tokenizer_config.json", error)) {
    const fs::path path = *folder / "tokenizer_config.json";
    variables = text::chat_template_special_tokens(io::read_json_file(path, 64));
  }
  text::jinja::List messages;
  for (const auto& [role, content] : std::vector<std::pair<std::string, std::string>>{
           {"user", "What is 2 + 2?"}, {"assistant", "4."}, {"user", "And 3 + 3?"}}) {
    text::jinja::Dict message;
    message.set("role", text::jinja::Value(role));
    message.set("content", text::jinja::Value(content));
    messages.emplace_back(std::move(message));
  }
  variables.set("messages", text::jinja::Value(std::move(messages)));
  variables.set("tools", text::jinja::Value(text::jinja::None{}));
  variables.set("documents", text::jinja::Value(text::jinja::None{}));
  variables.set("add_generation_prompt", text::jinja::Value(true));
  try {
    text::jinja::Template(source, "chat_template").render(variables);
  } catch (const Error& e) {
    throw Error(where +
                "expected a template that renders a user/assistant/user conversation, got one that fails: " + e.what());
  }
}

}  // namespace

const std::vector<std::string>& chat_template_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& [name, source] : named_templates()) list.push_back(name);
    return list;
  }();
  return names;
}

const std::string& named_chat_template(const std::string& name) {
  const auto found = named_templates().find(name);
  if (found == named_templates().end()) {
    throw Error("unknown chat template '" + name + "' (ladle ships: " + joined_names() + ")");
  }
  return found->second;
}

std::optional<std::string> choose_chat_template(const MergeConfig& config, const std::vector<fs::path>& model_folders,
                                                const std::optional<fs::path>& tokenizer_folder) {
  const std::string& chosen = config.chat_template;
  if (chosen.empty()) return std::nullopt;
  std::optional<std::string> source;
  if (chosen == "auto") {
    source = most_common_template(model_folders);
    if (!source) {
      LADLE_LOG(warning) << config.where(config.chat_template_line)
                         << ": chat_template: auto: no model of the merge has a chat template; none is written";
      return std::nullopt;
    }
  } else if (named_templates().count(chosen)) {
    source = named_templates().at(chosen);
  } else if (chosen.size() < 20 || chosen.find('{') == std::string::npos) {
    throw Error(config.where(config.chat_template_line) + ": chat_template: expected one of " + joined_names() +
                ", auto, or a Jinja template, got '" + chosen + "'");
  } else {
    source = chosen;
  }
  require_renders(config, *source, tokenizer_folder);
  return source;
}

}  // namespace ladle::merge
