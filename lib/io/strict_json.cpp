#include "lib/io/strict_json.h"

#include <cstdio>
#include <set>
#include <vector>

#include "lib/util/error.h"

namespace ladle::io {

nlohmann::json parse_json_strict(std::string_view text, const std::string& label, std::size_t max_depth) {
  using json = nlohmann::json;
  // One key set per open container (arrays get an empty one that never receives keys).
  std::vector<std::set<std::string>> open_containers;
  auto check_structure = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (open_containers.size() >= max_depth) {
          throw Error(label + ": JSON is nested deeper than " + std::to_string(max_depth) + " levels");
        }
        open_containers.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: open_containers.pop_back(); break;
      case json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!open_containers.back().insert(key).second) {
          throw Error(label + ": duplicate key " + quote_for_message(key) + " in a JSON object");
        }
        break;
      }
      case json::parse_event_t::value: break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check_structure);
  } catch (const json::exception& e) {
    throw Error(label + ": invalid JSON (" + e.what() + ")");
  }
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t kMaxShown = 200;
  std::string result = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      result += static_cast<char>(byte);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      result += escaped;
    }
  }
  if (text.size() > kMaxShown) result += "...";
  return result + "'";
}

}  // namespace ladle::io
