// One value of a config as a reader meets it: the YAML node, its dotted key and the source it came from, so every
// message can name the place ("train.yml:7: batch_size: expected a whole number >= 1, got 'many'").
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>

#include "lib/config/config_source.h"
#include "lib/config/value_range.h"

namespace ladle::config {

struct YamlValue {
  YAML::Node node;
  std::string key;  // dotted: "optimizer.lr", "optimizer.betas[0]"
  const ConfigSource& source;
  int line = 0;  // of its key in the file (a key given twice has two); 0: ConfigSource::where finds it by key

  // The value of the entry `item` of this mapping ("<key>.<name>"), or item `index` of this list ("<key>[<index>]").
  YamlValue member(const std::pair<YAML::Node, YAML::Node>& item) const;
  YamlValue item(std::size_t index) const;

  // A scalar written without quotes: YAML reads only those as numbers and booleans ("16" is a string, as it is in
  // JSON, where transformers would keep it one).
  bool is_plain_scalar() const { return node.IsScalar() && node.Tag() != "!"; }
  // Throws ladle::Error "<where>: <key>: <message>".
  [[noreturn]] void fail(const std::string& message) const;
  // Throws "... expected <what>, got 'text'" for a value that is no number, else "... expected <what> <range>,
  // got <the number as written>".
  [[noreturn]] void expected(const std::string& what, const ValueRange& range = {}) const;
  // A relative path resolved against the folder its value belongs to (ConfigSource::base_dir_for), normalised.
  std::filesystem::path resolved(const std::filesystem::path& path) const;
  // "train.yml:7" or "--set ...": where this value came from.
  std::string where() const { return source.where(key, line); }
};

// "a number in [0, 1]", "a whole number >= 1", "a string".
std::string described(const std::string& what, const ValueRange& range);

}  // namespace ladle::config
