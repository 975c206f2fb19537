// The reference of a config's keys, generated from its Schema (Schema::reference): one entry per key with its
// type, allowed values, default and help, rendered for the terminal (`ladle train --help-config`) or as Markdown
// (docs/config.md, which a test regenerates and compares).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ladle::config {

struct KeyReference {
  std::string key;               // dotted: "optimizer.lr"
  std::string type;              // "a number", "one of adamw, sgd", "a section"
  std::string allowed;           // the range: "> 0", "in [0, 1)" (empty: any value of the type)
  nlohmann::json default_value;  // as the JSON dump writes it (a default-constructed struct's value)
  std::string help;              // what the key means
  bool section = false;          // a nested mapping whose keys follow
};

// "0.001", "adamw", "[q_proj, v_proj]", "\"\"" for an empty string, "none" for null.
std::string default_text(const nlohmann::json& value);

// The top-level keys as a table (key, type, default, allowed, description), then each section as a heading
// (`heading`: "##", or "###" under a document's own heading) with its help and its keys as a table.
std::string reference_markdown(const std::vector<KeyReference>& keys, const std::string& heading = "##");
// `keys` with the entry of `key` (a custom key whose keys another library declares: the training config's
// `averaging:`, read by the callbacks library) turned into a section, with its help, followed by `detail`.
std::vector<KeyReference> expanded(std::vector<KeyReference> keys, const std::string& key,
                                   const std::vector<KeyReference>& detail);
// Each key on a line with its type, range and default, its help indented below.
std::string reference_text(const std::vector<KeyReference>& keys);

}  // namespace ladle::config
