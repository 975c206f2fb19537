// Reading a YAML config key by key against a schema, with messages that name the file, the line and the dotted key
// ("evolve.yml:7: search.sigma: expected a number > 0, got 'wide'"); unknown keys are errors that list the known
// ones. The reading style of pipelines/dtm/dtm_config.cpp, as a reusable piece for other config files.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "lib/config/config_source.h"

namespace ladle {

using config::load_yaml;
using config::read_config_text;
using config::yaml_line;
using config::yaml_shown;

class YamlFields {
 public:
  using Reader = std::function<void(const YAML::Node&, const std::string&)>;

  // `label` names the file in messages; relative paths resolve against `base_dir`.
  YamlFields(std::string label, std::filesystem::path base_dir)
      : label_(std::move(label)), base_dir_(std::move(base_dir)) {}

  // Throws ladle::Error "<label>:<line of node>: <key>: <message>".
  [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& message) const;
  // Calls the reader of every key of the mapping `node` (keys named "<prefix>.<key>"); an unknown key fails.
  void section(const YAML::Node& node, const std::string& prefix,
               const std::vector<std::pair<const char*, Reader>>& fields) const;

  std::int64_t integer(const YAML::Node& node, const std::string& key, std::int64_t min) const;
  // A number >= min (> min when `exclusive`).
  double number(const YAML::Node& node, const std::string& key, double min, bool exclusive = false) const;
  bool boolean(const YAML::Node& node, const std::string& key) const;
  std::string string(const YAML::Node& node, const std::string& key) const;  // non-empty
  std::filesystem::path path(const YAML::Node& node, const std::string& key) const;  // resolved, normalised
  std::filesystem::path existing_file(const YAML::Node& node, const std::string& key) const;

  const std::string& label() const { return label_; }
  const std::filesystem::path& base_dir() const { return base_dir_; }

 private:
  std::string label_;
  std::filesystem::path base_dir_;
};

}  // namespace ladle
