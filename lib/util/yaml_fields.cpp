#include "lib/util/yaml_fields.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "lib/util/error.h"

namespace ladle {

namespace fs = std::filesystem;

void YamlFields::fail(const YAML::Node& node, const std::string& key, const std::string& message) const {
  const int line = yaml_line(node);
  throw Error(label_ + (line > 0 ? ":" + std::to_string(line) : "") + ": " + key + ": " + message);
}

void YamlFields::section(const YAML::Node& node, const std::string& prefix,
                         const std::vector<std::pair<const char*, Reader>>& fields) const {
  if (!node.IsMap()) fail(node, prefix, "expected a mapping of keys, got " + yaml_shown(node));
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const auto field = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return name == f.first; });
    if (field == fields.end()) {
      std::string known;
      for (const auto& f : fields) known += (known.empty() ? "" : ", ") + std::string(f.first);
      fail(item.first, key, "unknown key; known keys: " + known);
    }
    field->second(item.second, key);
  }
}

std::int64_t YamlFields::integer(const YAML::Node& node, const std::string& key, std::int64_t min) const {
  long long value = 0;
  if (!node.IsScalar() || !YAML::convert<long long>::decode(node, value) || value < min) {
    fail(node, key, "expected a whole number >= " + std::to_string(min) + ", got " + yaml_shown(node));
  }
  return value;
}

double YamlFields::number(const YAML::Node& node, const std::string& key, double min, bool exclusive) const {
  double value = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value) ||
      (exclusive ? value <= min : value < min)) {
    std::ostringstream bound;
    bound << (exclusive ? "> " : ">= ") << min;
    fail(node, key, "expected a number " + bound.str() + ", got " + yaml_shown(node));
  }
  return value;
}

bool YamlFields::boolean(const YAML::Node& node, const std::string& key) const {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    fail(node, key, "expected true or false, got " + yaml_shown(node));
  }
  return value;
}

std::string YamlFields::string(const YAML::Node& node, const std::string& key) const {
  if (!node.IsScalar() || node.Scalar().empty()) fail(node, key, "expected a non-empty string, got " + yaml_shown(node));
  return node.Scalar();
}

fs::path YamlFields::path(const YAML::Node& node, const std::string& key) const {
  const fs::path value(string(node, key));
  return (value.is_relative() ? base_dir_ / value : value).lexically_normal();
}

fs::path YamlFields::existing_file(const YAML::Node& node, const std::string& key) const {
  const fs::path value = path(node, key);
  std::error_code error;
  if (!fs::is_regular_file(value, error)) fail(node, key, "'" + value.string() + "' does not exist");
  return value;
}

}  // namespace ladle
