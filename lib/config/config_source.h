// Where a config's values come from: one YAML document (a file, or text with a label) plus `--set key=value`
// overrides applied on top, and for every dotted key the place to name in a message: "train.yml:12" for a value
// from the file, "--set optimizer.lr=fast" for one from an override. Relative paths resolve against the file's
// folder, or against the current directory for a value given with --set (where the user typed it).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/config/config_error.h"

namespace ladle::config {

class ConfigSource {
 public:
  // Parses `text` ("<label>:<line>: not valid YAML: ..." on a syntax error; an empty document is an empty mapping),
  // then applies each override "dotted.key=value" (the value in YAML syntax, "lora.target_modules=[q, v]"),
  // creating the sections it names.
  ConfigSource(const std::string& text, std::string label, std::filesystem::path base_dir,
               const std::vector<std::string>& overrides = {});
  // A document already parsed as JSON (a config.json built in code): the same keys and values, without lines, so
  // messages name `label` alone.
  ConfigSource(const nlohmann::json& document, std::string label);
  // The same from a file (at most max_bytes; "<path>: no such config file" when missing); relative paths resolve
  // against its folder.
  static ConfigSource from_file(const std::filesystem::path& path, const std::vector<std::string>& overrides = {},
                                std::uintmax_t max_bytes = 1 << 20);

  // The same document with `more` overrides applied after this one's (each run of a pipeline adds its own).
  ConfigSource with_overrides(const std::vector<std::string>& more) const;

  const YAML::Node& root() const { return root_; }
  const std::string& label() const { return label_; }
  const std::string& text() const { return text_; }  // the YAML as given, before the overrides
  const std::vector<std::string>& overrides() const { return overrides_; }

  // "--set a.b=1" when the key or a section holding it came from an override, or when the file lacks the key and
  // an override set a key under it (`--set averaging.ema.decay=2` names the section averaging.ema); else
  // "<label>:<line>" with `line` when known, else the line of the key or of its nearest enclosing key that the
  // file has ("<label>" when none has a line).
  std::string where(const std::string& key, int line = 0) const;
  // True when the key or a section holding it came from an override.
  bool from_override(const std::string& key) const;
  // The folder a relative path under `key` resolves against.
  std::filesystem::path base_dir_for(const std::string& key) const;

  // Throws ladle::Error "<where(key)>: <key>: <message>" (for checks made after reading, by key).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  // A check's ConfigError with the place of its key in front; the key taken under `prefix` when the checked
  // struct is a section of the document ("train" of a dtm.yml: "dtm.yml:9: train.optimizer.lr: ...").
  Error located(const ConfigError& error, const std::string& prefix = "") const;

 private:
  void apply_override(const std::string& assignment);
  const std::string* override_of(const std::string& key) const;
  const std::string* override_under(const std::string& key) const;
  // The line of the key, or of its nearest enclosing key the file has; `complete`: the file has the key itself
  // (with a line: not one an override added).
  int line_of(const std::string& key, bool* complete = nullptr) const;

  std::string text_;
  YAML::Node root_;
  std::string label_;
  std::filesystem::path base_dir_;
  std::vector<std::string> overrides_;               // the --set arguments, in the order applied
  std::map<std::string, std::string> override_of_;  // dotted key -> the --set argument that gave it
};

// Parses YAML text; throws ladle::Error "<label>:<line>: not valid YAML: ..." on a syntax error.
YAML::Node load_yaml(const std::string& text, const std::string& label);
// A file's contents; throws ladle::Error "<path>: no such config file" when it is missing, or when it is larger than
// max_bytes or cannot be read.
std::string read_config_text(const std::filesystem::path& path, std::uintmax_t max_bytes = 1 << 20);
// 1-based line of a node, 0 when it has none.
int yaml_line(const YAML::Node& node);
// How a value is shown in a message: a scalar quoted, else "a list", "a mapping" or "nothing".
std::string yaml_shown(const YAML::Node& node);
// JSON as a YAML node without marks: strings quoted (tag "!"), numbers and booleans plain, null as null.
YAML::Node json_to_yaml(const nlohmann::json& value);
// A YAML value as JSON: quoted scalars stay strings, plain ones become null, booleans, integers or numbers when
// they read as such (the YAML 1.2 core schema).
nlohmann::json yaml_to_json(const YAML::Node& node);

}  // namespace ladle::config
