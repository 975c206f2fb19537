// The chat template a merge writes into its output's tokenizer_config.json, chosen by `chat_template:` as
// mergekit's _set_chat_template (mergekit/merge.py) chooses it:
//   - a name of a template ladle ships: alpaca, chatml, exaone, llama3, mistral (the set mergekit ships in
//     mergekit/_data/chat_templates; ours are written from each format's definition);
//   - auto: the template most models of the merge have (whitespace stripped; the first one met wins a tie); none
//     when no model has one;
//   - anything else is taken as a Jinja template, when it could be one (20 characters or more, with a '{').
// Every template is rendered once on a short conversation with ladle's Jinja interpreter before anything is
// written, so a broken template stops the merge (mergekit writes it unchecked).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lib/merge/merge_config.h"

namespace ladle::merge {

// The names of the templates ladle ships, sorted.
const std::vector<std::string>& chat_template_names();
// The template of a name in chat_template_names(); throws ladle::Error listing them for another name.
const std::string& named_chat_template(const std::string& name);

// The template for config.chat_template (nullopt when it is empty, or auto finds none); `model_folders` are the
// merged models' folders and `tokenizer_folder` the output tokenizer's (its tokenizer_config.json gives the special
// tokens the render check passes). Throws ladle::Error "FILE:LINE: chat_template: expected ..." for a name that is
// none of the above or a template that does not render.
std::optional<std::string> choose_chat_template(const MergeConfig& config,
                                                const std::vector<std::filesystem::path>& model_folders,
                                                const std::optional<std::filesystem::path>& tokenizer_folder);

}  // namespace ladle::merge
