#include "lib/merge/merge_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <system_error>

#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMaxLayerIndex = 1'000'000;

int line_of(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default: {
      std::string text = node.Scalar();
      if (text.size() > 40) text = text.substr(0, 37) + "...";
      return "'" + text + "'";
    }
  }
}

// True for a scalar written without quotes: YAML resolves only those to numbers and booleans.
bool is_plain_scalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

std::optional<bool> as_boolean(const YAML::Node& node) {
  if (!is_plain_scalar(node)) return std::nullopt;
  // YAML 1.1 booleans, as PyYAML (which mergekit uses) reads them.
  static const std::set<std::string> kTrue = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const std::set<std::string> kFalse = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  if (kTrue.count(node.Scalar())) return true;
  if (kFalse.count(node.Scalar())) return false;
  return std::nullopt;
}

std::optional<double> as_number(const YAML::Node& node) {
  if (!is_plain_scalar(node)) return std::nullopt;
  const std::string& text = node.Scalar();
  if (text.empty()) return std::nullopt;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// Walks the YAML tree, producing errors "<file>:<line>: <key path>: <message>".
class ConfigParser {
 public:
  ConfigParser(std::string label, fs::path folder) : label_(std::move(label)), folder_(std::move(folder)) {}

  MergeConfig parse(const std::string& text);

 private:
  [[noreturn]] void fail(const YAML::Node& node, const std::string& key_path, const std::string& message) const {
    const int line = line_of(node);
    throw Error(label_ + (line > 0 ? ":" + std::to_string(line) : "") + ": " + key_path + ": " + message);
  }

  // Calls visit(key, value) for every entry of a mapping, refusing keys not in `allowed` and repeated keys.
  void for_each_entry(const YAML::Node& map, const std::string& key_path, const std::set<std::string>& allowed,
                      const std::function<void(const std::string&, const YAML::Node&)>& visit) const;
  std::string expect_string(const YAML::Node& node, const std::string& key_path) const;
  double expect_number(const YAML::Node& node, const std::string& key_path) const;
  std::int64_t expect_layer_index(const YAML::Node& node, const std::string& key_path) const;
  const YAML::Node& expect_list(const YAML::Node& node, const std::string& key_path, bool allow_empty) const;

  ModelReference parse_model(const YAML::Node& node, const std::string& key_path) const;
  ModelReference make_model(const std::string& name, int line) const;
  ScalarOrGradient parse_scalar_or_gradient(const YAML::Node& node, const std::string& key_path) const;
  ParameterSetting parse_setting(const YAML::Node& node, const std::string& key_path) const;
  ParameterSettings parse_parameters(const YAML::Node& node, const std::string& key_path) const;
  InputSource parse_source(const YAML::Node& node, const std::string& key_path, bool in_slice) const;
  OutputSlice parse_slice(const YAML::Node& node, const std::string& key_path) const;
  TokenizerSource parse_tokenizer_source(const YAML::Node& node, const std::string& key_path) const;
  c10::ScalarType parse_dtype(const YAML::Node& node, const std::string& key_path) const;

  std::string label_;
  fs::path folder_;
};

void ConfigParser::for_each_entry(const YAML::Node& map, const std::string& key_path,
                                  const std::set<std::string>& allowed,
                                  const std::function<void(const std::string&, const YAML::Node&)>& visit) const {
  if (!map.IsMap()) fail(map, key_path, "expected a mapping of keys to values, got " + describe(map));
  std::set<std::string> seen;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) fail(key, key_path, "a key must be a plain name, got " + describe(key));
    const std::string name = key.Scalar();
    const std::string path = key_path.empty() ? name : key_path + "." + name;
    if (!seen.insert(name).second) fail(key, path, "the key appears twice");
    if (!allowed.empty() && !allowed.count(name)) {
      std::string known;
      for (const auto& candidate : allowed) known += (known.empty() ? "" : ", ") + candidate;
      fail(key, path, "unknown key (expected one of: " + known + ")");
    }
    visit(name, entry.second);
  }
}

std::string ConfigParser::expect_string(const YAML::Node& node, const std::string& key_path) const {
  if (!node.IsScalar() || node.Scalar().empty()) fail(node, key_path, "expected a text value, got " + describe(node));
  if (node.Scalar().find('\0') != std::string::npos) fail(node, key_path, "the text contains a NUL character");
  return node.Scalar();
}

double ConfigParser::expect_number(const YAML::Node& node, const std::string& key_path) const {
  if (const auto flag = as_boolean(node)) return *flag ? 1.0 : 0.0;
  if (const auto value = as_number(node)) return *value;
  fail(node, key_path, "expected a finite number or a boolean, got " + describe(node));
}

std::int64_t ConfigParser::expect_layer_index(const YAML::Node& node, const std::string& key_path) const {
  const auto value = as_number(node);
  if (!value || *value != std::floor(*value) || *value < 0 || *value > kMaxLayerIndex) {
    fail(node, key_path, "expected a layer index (a whole number from 0 to " + std::to_string(kMaxLayerIndex) +
                             "), got " + describe(node));
  }
  return static_cast<std::int64_t>(*value);
}

const YAML::Node& ConfigParser::expect_list(const YAML::Node& node, const std::string& key_path,
                                            bool allow_empty) const {
  if (!node.IsSequence()) fail(node, key_path, "expected a list, got " + describe(node));
  if (!allow_empty && node.size() == 0) fail(node, key_path, "the list is empty");
  if (node.size() > kMaxListEntries) {
    fail(node, key_path, "the list has " + std::to_string(node.size()) + " entries; at most " +
                             std::to_string(kMaxListEntries) + " are accepted");
  }
  return node;
}

ModelReference ConfigParser::parse_model(const YAML::Node& node, const std::string& key_path) const {
  if (node.IsMap()) {
    fail(node, key_path, "expected a model path; model references with LoRA or revision fields are not supported");
  }
  return make_model(expect_string(node, key_path), line_of(node));
}

ModelReference ConfigParser::make_model(const std::string& name, int line) const {
  ModelReference model;
  model.name = name;
  model.line = line;
  const fs::path given(name);
  model.path = (given.is_absolute() ? given : folder_ / given).lexically_normal();
  // "./a/" and "./a" are the same model.
  if (!model.path.has_filename() && model.path.has_parent_path()) model.path = model.path.parent_path();
  return model;
}

ScalarOrGradient ConfigParser::parse_scalar_or_gradient(const YAML::Node& node, const std::string& key_path) const {
  ScalarOrGradient value;
  if (!node.IsSequence()) {
    value.values.push_back(expect_number(node, key_path));
    return value;
  }
  expect_list(node, key_path, /*allow_empty=*/false);
  bool all_booleans = true;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string item_path = key_path + "[" + std::to_string(i) + "]";
    if (!item.IsScalar()) fail(item, item_path, "a gradient lists numbers, got " + describe(item));
    all_booleans = all_booleans && as_boolean(item).has_value();
    value.values.push_back(expect_number(item, item_path));
  }
  value.interpolate = !all_booleans;
  return value;
}

ParameterSetting ConfigParser::parse_setting(const YAML::Node& node, const std::string& key_path) const {
  ParameterSetting setting;
  setting.line = line_of(node);
  const bool filtered = node.IsSequence() && node.size() > 0 && node[0].IsMap();
  if (!filtered) {
    if (node.IsMap()) {
      fail(node, key_path, "a filtered value is a list of {filter, value} entries; put this entry in a list");
    }
    setting.entries.push_back({std::nullopt, parse_scalar_or_gradient(node, key_path), line_of(node)});
    return setting;
  }
  expect_list(node, key_path, /*allow_empty=*/false);
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string item_path = key_path + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      fail(item, item_path, "every entry of a filtered value must be a {filter, value} mapping, got " + describe(item));
    }
    FilteredValue entry;
    entry.line = line_of(item);
    bool has_value = false;
    for_each_entry(item, item_path, {"filter", "value"}, [&](const std::string& key, const YAML::Node& value) {
      if (key == "filter") {
        entry.filter = expect_string(value, item_path + ".filter");
      } else {
        entry.value = parse_scalar_or_gradient(value, item_path + ".value");
        has_value = true;
      }
    });
    if (!has_value) fail(item, item_path, "the entry has no 'value'");
    setting.entries.push_back(std::move(entry));
  }
  return setting;
}

ParameterSettings ConfigParser::parse_parameters(const YAML::Node& node, const std::string& key_path) const {
  ParameterSettings settings;
  if (node.IsNull()) return settings;  // `parameters:` with nothing under it, as in mergekit's own examples
  for_each_entry(node, key_path, {}, [&](const std::string& name, const YAML::Node& value) {
    settings.emplace(name, parse_setting(value, key_path + "." + name));
  });
  return settings;
}

InputSource ConfigParser::parse_source(const YAML::Node& node, const std::string& key_path, bool in_slice) const {
  InputSource source;
  source.key_path = key_path;
  source.line = line_of(node);
  if (!node.IsMap()) {
    fail(node, key_path, std::string("expected a mapping with 'model'") + (in_slice ? " and 'layer_range'" : "") +
                             ", got " + describe(node));
  }
  const std::set<std::string> allowed = in_slice
                                           ? std::set<std::string>{"model", "layer_range", "parameters", "fisher"}
                                           : std::set<std::string>{"model", "parameters", "fisher"};
  bool has_model = false;
  for_each_entry(node, key_path, allowed, [&](const std::string& key, const YAML::Node& value) {
    const std::string path = key_path + "." + key;
    if (key == "model") {
      source.model = parse_model(value, path);
      has_model = true;
    } else if (key == "parameters") {
      source.parameters = parse_parameters(value, path);
    } else if (key == "fisher") {
      source.fisher = make_model(expect_string(value, path), line_of(value));
    } else {
      expect_list(value, path, /*allow_empty=*/false);
      if (value.size() != 2) fail(value, path, "expected [first, end) as two layer indices, got " + describe(value));
      const auto begin = expect_layer_index(value[0], path + "[0]");
      const auto end = expect_layer_index(value[1], path + "[1]");
      if (end <= begin) {
        fail(value, path, "the range [" + std::to_string(begin) + ", " + std::to_string(end) +
                              ") is empty; the end is exclusive, so [0, 4] takes layers 0 to 3");
      }
      source.layer_range = std::make_pair(begin, end);
    }
  });
  if (!has_model) fail(node, key_path, "missing 'model'");
  if (in_slice && !source.layer_range) fail(node, key_path + " (" + source.model.name + ")", "missing 'layer_range'");
  return source;
}

OutputSlice ConfigParser::parse_slice(const YAML::Node& node, const std::string& key_path) const {
  OutputSlice slice;
  slice.key_path = key_path;
  slice.line = line_of(node);
  bool has_sources = false;
  for_each_entry(node, key_path, {"sources", "parameters", "base_model", "residual_weight"},
                 [&](const std::string& key, const YAML::Node& value) {
                   const std::string path = key_path + "." + key;
                   if (key == "sources") {
                     expect_list(value, path, /*allow_empty=*/false);
                     for (std::size_t i = 0; i < value.size(); ++i) {
                       slice.sources.push_back(parse_source(value[i], path + "[" + std::to_string(i) + "]", true));
                     }
                     has_sources = true;
                   } else if (key == "parameters") {
                     slice.parameters = parse_parameters(value, path);
                   } else if (key == "base_model") {
                     slice.base_model = parse_model(value, path);
                   } else {
                     fail(value, path, "residual_weight (deprecated in mergekit) is not supported");
                   }
                 });
  if (!has_sources) fail(node, key_path, "missing 'sources'");
  return slice;
}

TokenizerSource ConfigParser::parse_tokenizer_source(const YAML::Node& node, const std::string& key_path) const {
  const std::string text = expect_string(node, key_path);
  TokenizerSource source;
  source.line = line_of(node);
  if (text == "base") {
    source.base = true;
  } else if (text == "union") {
    fail(node, key_path,
         "'union' builds a new vocabulary and remaps the embeddings, which ladle does not do; use 'base' or a "
         "model path (the models must then share that vocabulary)");
  } else {
    const std::string prefix = "model:";
    const bool prefixed = text.compare(0, prefix.size(), prefix) == 0 && text.size() > prefix.size();
    source.model = make_model(prefixed ? text.substr(prefix.size()) : text, line_of(node));
  }
  return source;
}

c10::ScalarType ConfigParser::parse_dtype(const YAML::Node& node, const std::string& key_path) const {
  const std::string name = expect_string(node, key_path);
  try {
    return parse_merge_dtype(name);
  } catch (const Error& e) {
    fail(node, key_path, e.what());
  }
}

MergeConfig ConfigParser::parse(const std::string& text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    const std::string line = e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1);
    throw Error(label_ + line + ": not valid YAML: " + e.msg);
  }
  if (documents.empty()) throw Error(label_ + ": the file is empty");
  if (documents.size() > 1) {
    throw Error(label_ + ": holds " + std::to_string(documents.size()) +
                " YAML documents; one merge per file (mergekit-mega's multi-document files are not supported)");
  }
  const YAML::Node root = documents.front();
  if (!root.IsMap()) fail(root, "(top level)", "expected a mapping of configuration keys, got " + describe(root));

  MergeConfig config;
  config.text = text;
  bool has_method = false;
  std::optional<YAML::Node> models_node;
  std::optional<YAML::Node> slices_node;
  for_each_entry(
      root, "",
      {"merge_method", "base_model", "models", "slices", "parameters", "dtype", "out_dtype", "tokenizer_source",
       "tokenizer", "chat_template", "modules"},
      [&](const std::string& key, const YAML::Node& value) {
        if (key == "merge_method") {
          config.merge_method = expect_string(value, key);
          config.merge_method_line = line_of(value);
          has_method = true;
        } else if (key == "base_model") {
          if (!value.IsNull()) config.base_model = parse_model(value, key);
        } else if (key == "models") {
          models_node = value;
        } else if (key == "slices") {
          slices_node = value;
        } else if (key == "parameters") {
          config.parameters = parse_parameters(value, key);
        } else if (key == "dtype") {
          config.dtype = parse_dtype(value, key);
        } else if (key == "out_dtype") {
          config.out_dtype = parse_dtype(value, key);
        } else if (key == "tokenizer_source") {
          if (!value.IsNull()) config.tokenizer_source = parse_tokenizer_source(value, key);
        } else if (key == "tokenizer") {
          for_each_entry(value, key, {"source"}, [&](const std::string&, const YAML::Node& source) {
            config.tokenizer_source = parse_tokenizer_source(source, "tokenizer.source");
          });
        } else if (key == "chat_template") {
          config.warnings.push_back(label_ + ":" + std::to_string(line_of(value)) +
                                    ": chat_template is ignored: ladle copies the tokenizer files as they are");
        } else {
          fail(value, key, "multi-module merges ('modules') are not supported; use 'models' or 'slices'");
        }
      });
  if (!has_method) fail(root, "merge_method", "missing: every merge names its method (e.g. 'merge_method: linear')");
  if (models_node.has_value() == slices_node.has_value()) {
    fail(root, "models/slices", "give exactly one of 'models' (whole models) or 'slices' (layer ranges)");
  }
  if (models_node) {
    expect_list(*models_node, "models", /*allow_empty=*/false);
    for (std::size_t i = 0; i < models_node->size(); ++i) {
      config.models.push_back(parse_source((*models_node)[i], "models[" + std::to_string(i) + "]", false));
    }
  } else {
    expect_list(*slices_node, "slices", /*allow_empty=*/false);
    for (std::size_t i = 0; i < slices_node->size(); ++i) {
      config.slices.push_back(parse_slice((*slices_node)[i], "slices[" + std::to_string(i) + "]"));
    }
  }
  return config;
}

}  // namespace

double ScalarOrGradient::at(double t) const {
  if (values.size() == 1) return values.front();
  const double scaled = t * static_cast<double>(values.size() - 1);
  const auto lower = static_cast<std::size_t>(std::min(std::max(scaled, 0.0), double(values.size() - 1)));
  if (!interpolate) return values[lower];
  const std::size_t upper = std::min(values.size() - 1, lower + 1);
  const double fraction = scaled - static_cast<double>(lower);
  return (1 - fraction) * values[lower] + fraction * values[upper];
}

std::optional<double> ParameterSetting::evaluate(const std::string& tensor_name, double t) const {
  for (const auto& entry : entries) {
    if (!entry.filter || *entry.filter == "*" || tensor_name.find(*entry.filter) != std::string::npos) {
      return entry.value.at(t);
    }
  }
  return std::nullopt;
}

std::vector<ModelReference> MergeConfig::referenced_models() const {
  std::vector<ModelReference> models;
  auto add = [&](const ModelReference& model) {
    for (const auto& known : models) {
      if (known == model) return;
    }
    models.push_back(model);
  };
  if (base_model) add(*base_model);
  for (const auto& source : this->models) add(source.model);
  for (const auto& slice : slices) {
    if (slice.base_model) add(*slice.base_model);
    for (const auto& source : slice.sources) add(source.model);
  }
  return models;
}

std::string MergeConfig::where(int line) const {
  return path.string() + (line > 0 ? ":" + std::to_string(line) : "");
}

MergeConfig load_merge_config(const fs::path& path) {
  std::error_code error;
  const auto status = fs::status(path, error);
  if (!fs::exists(status)) throw Error(path.string() + ": no such config file");
  if (!fs::is_regular_file(status)) throw Error(path.string() + ": not a regular file");
  const auto size = fs::file_size(path, error);
  if (error) throw Error(path.string() + ": cannot read: " + error.message());
  if (size > kMaxConfigBytes) {
    throw Error(path.string() + ": " + std::to_string(size) + " bytes is too large for a merge config (at most " +
                std::to_string(kMaxConfigBytes) + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  const fs::path folder = fs::absolute(path, error).parent_path();
  MergeConfig config = parse_merge_config(text.str(), path.string(), folder);
  config.path = path;
  return config;
}

MergeConfig parse_merge_config(const std::string& text, const std::string& label, const fs::path& folder) {
  if (text.size() > kMaxConfigBytes) throw Error(label + ": too large for a merge config");
  MergeConfig config = ConfigParser(label, folder).parse(text);
  config.path = label;
  return config;
}

c10::ScalarType parse_merge_dtype(const std::string& name) {
  std::string bare = name.compare(0, 6, "torch.") == 0 ? name.substr(6) : name;
  if (bare == "float32" || bare == "fp32" || bare == "float") return c10::kFloat;
  if (bare == "float16" || bare == "fp16" || bare == "half") return c10::kHalf;
  if (bare == "bfloat16" || bare == "bf16") return c10::kBFloat16;
  if (bare == "float64" || bare == "double") return c10::kDouble;
  throw Error("unknown dtype '" + name + "' (expected float32, float16, bfloat16 or float64)");
}

std::string merge_dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat:
      return "float32";
    case c10::kHalf:
      return "float16";
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kDouble:
      return "float64";
    default:
      return c10::toString(dtype);
  }
}

}  // namespace ladle::merge
