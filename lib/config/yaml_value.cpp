#include "lib/config/yaml_value.h"

namespace ladle::config {

YamlValue YamlValue::member(const std::pair<YAML::Node, YAML::Node>& item) const {
  const std::string name = item.first.as<std::string>();
  return {item.second, key.empty() ? name : key + "." + name, source, yaml_line(item.first)};
}

YamlValue YamlValue::item(std::size_t index) const {
  return {node[index], key + "[" + std::to_string(index) + "]", source, yaml_line(node[index])};
}

void YamlValue::fail(const std::string& message) const { throw Error(where() + ": " + key + ": " + message); }

void YamlValue::expected(const std::string& what, const ValueRange& range) const {
  // A value of the wrong type is named by its type; a number out of range is shown as written, with the range.
  double number = 0;
  bool truth = false;
  if (node.IsScalar() && !is_plain_scalar() &&
      (YAML::convert<double>::decode(node, number) || YAML::convert<bool>::decode(node, truth))) {
    fail("expected " + what + ", got " + yaml_shown(node) + " (quoted, so a string: write it without quotes)");
  }
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, number))
    fail("expected " + what + ", got " + yaml_shown(node));
  fail("expected " + described(what, range) + ", got " + node.Scalar());
}

std::filesystem::path YamlValue::resolved(const std::filesystem::path& path) const {
  if (path.empty()) return path;
  return (path.is_relative() ? source.base_dir_for(key) / path : path).lexically_normal();
}

std::string described(const std::string& what, const ValueRange& range) {
  return range.bounded() ? what + " " + range.text() : what;
}

}  // namespace ladle::config
