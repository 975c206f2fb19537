#include "lib/config/key_reference.h"

#include <algorithm>

namespace ladle::config {

namespace {

std::string joined_list(const nlohmann::json& list) {
  std::string text;
  for (const auto& item : list) text += (text.empty() ? "" : ", ") + default_text(item);
  return "[" + text + "]";
}

std::string table_cell(std::string text) {
  for (std::size_t at = text.find('|'); at != std::string::npos; at = text.find('|', at + 2))
    text.replace(at, 1, "\\|");
  return text;
}

}  // namespace

std::string default_text(const nlohmann::json& value) {
  if (value.is_null()) return "none";
  if (value.is_string()) return value.get<std::string>().empty() ? "\"\"" : value.get<std::string>();
  if (value.is_array()) return joined_list(value);
  if (value.is_object() && value.empty()) return "{}";
  return value.dump();
}

std::string reference_markdown(const std::vector<KeyReference>& keys, const std::string& heading) {
  // Keys grouped under their section (the part of the key before its last dot), so a top-level key declared after
  // a section still lands in the top-level table.
  const auto parent = [](const std::string& key) {
    const auto dot = key.rfind('.');
    return dot == std::string::npos ? std::string() : key.substr(0, dot);
  };
  const auto table = [&](const std::string& section) {
    std::string rows;
    for (const auto& key : keys) {
      if (key.section || parent(key.key) != section) continue;
      rows += "| `" + key.key + "` | " + table_cell(key.type) + " | `" + table_cell(default_text(key.default_value)) +
              "` | " + table_cell(key.allowed) + " | " + table_cell(key.help) + " |\n";
    }
    return rows.empty() ? rows : "| key | type | default | allowed | description |\n|---|---|---|---|---|\n" + rows;
  };
  std::string text = table("");
  for (const auto& key : keys) {
    if (key.section) text += "\n" + heading + " `" + key.key + "`\n\n" + key.help + "\n\n" + table(key.key);
  }
  return text;
}

std::vector<KeyReference> expanded(std::vector<KeyReference> keys, const std::string& key,
                                   const std::vector<KeyReference>& detail) {
  const auto found = std::find_if(keys.begin(), keys.end(), [&](const KeyReference& entry) { return entry.key == key; });
  if (found == keys.end()) return keys;
  *found = {key, "a section", "", nullptr, found->help, true};
  keys.insert(found + 1, detail.begin(), detail.end());
  return keys;
}

std::string reference_text(const std::vector<KeyReference>& keys) {
  std::string text;
  for (const auto& key : keys) {
    if (key.section) {
      text += "\n" + key.key + ":  " + key.help + "\n";
      continue;
    }
    text += "  " + key.key + "  (" + key.type + (key.allowed.empty() ? "" : " " + key.allowed) +
            "; default: " + default_text(key.default_value) + ")\n      " + key.help + "\n";
  }
  return text;
}

}  // namespace ladle::config
