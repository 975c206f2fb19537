#include "lib/config/config_source.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace ladle::config {

namespace fs = std::filesystem;

namespace {

// "optimizer.betas[1]" -> {"optimizer", "betas", "[1]"}.
std::vector<std::string> key_parts(const std::string& key) {
  std::vector<std::string> parts;
  std::string part;
  for (const char c : key) {
    if (c == '.' || c == '[') {
      if (!part.empty()) parts.push_back(part);
      part = c == '[' ? "[" : "";
    } else {
      part += c;
    }
  }
  if (!part.empty()) parts.push_back(part);
  return parts;
}

// Bounds on a parsed document's tree, so that no reader walks forever: configs nest a few levels and a 1 MB file
// holds fewer values, but an alias inside its own anchor (`a: &x {b: *x}`) makes a tree without end, and aliases of
// aliases one that grows exponentially with the text.
constexpr int kMaxYamlDepth = 64;
constexpr std::size_t kMaxYamlValues = std::size_t{1} << 20;

struct YamlProblem {
  YAML::Node node;  // the value to name (its line)
  std::string message;
};

// The first thing under `node` that the readers could not take: the bounds above, or a key that is a list, a
// mapping or nothing (`[a, b]: 1`, `? {x: 1}`): every reader takes keys as strings, and yaml-cpp would throw its own
// conversion error at whichever met it first.
std::optional<YamlProblem> structure_problem(const YAML::Node& node, int depth, std::size_t& values) {
  if (++values > kMaxYamlValues) {
    return YamlProblem{node, "expands to more than " + std::to_string(kMaxYamlValues) + " values (aliases of aliases?)"};
  }
  if (depth > kMaxYamlDepth) {
    return YamlProblem{node, "nested deeper than " + std::to_string(kMaxYamlDepth) +
                                 " levels (an alias inside its own anchor?)"};
  }
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (auto problem = structure_problem(item, depth + 1, values)) return problem;
    }
  } else if (node.IsMap()) {
    for (const auto& item : node) {
      if (!item.first.IsScalar()) {
        return YamlProblem{item.first, "expected a key name, got " + yaml_shown(item.first) + " as a key"};
      }
      if (auto problem = structure_problem(item.second, depth + 1, values)) return problem;
    }
  }
  return std::nullopt;
}

std::optional<YamlProblem> structure_problem(const YAML::Node& root) {
  std::size_t values = 0;
  return structure_problem(root, 0, values);
}

}  // namespace

YAML::Node load_yaml(const std::string& text, const std::string& label) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    throw Error(label + (error.mark.is_null() ? "" : ":" + std::to_string(error.mark.line + 1)) +
                ": not valid YAML: " + error.msg);
  }
  if (const auto problem = structure_problem(root)) {
    const int line = yaml_line(problem->node);
    throw Error(label + (line > 0 ? ":" + std::to_string(line) : "") + ": " + problem->message);
  }
  return root;
}

std::string read_config_text(const fs::path& path, std::uintmax_t max_bytes) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) throw Error(path.string() + ": no such config file");
  if (fs::file_size(path, error) > max_bytes) {
    throw Error(path.string() + ": larger than " + std::to_string(max_bytes) + " bytes; not a config file");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw Error(path.string() + ": cannot read the file");
  return text.str();
}

int yaml_line(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

std::string yaml_shown(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

YAML::Node json_to_yaml(const nlohmann::json& value) {
  if (value.is_null()) return YAML::Node(YAML::NodeType::Null);
  if (value.is_object()) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, item] : value.items()) map[key] = json_to_yaml(item);
    return map;
  }
  if (value.is_array()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& item : value) list.push_back(json_to_yaml(item));
    return list;
  }
  if (value.is_string()) {
    YAML::Node text(value.get<std::string>());
    text.SetTag("!");
    return text;
  }
  return YAML::Node(value.dump());
}

nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (node.IsNull()) return nullptr;
  if (node.IsSequence()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : node) list.push_back(yaml_to_json(item));
    return list;
  }
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& item : node) object[item.first.as<std::string>()] = yaml_to_json(item.second);
    return object;
  }
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  if (text == "null" || text == "~") return nullptr;
  try {
    std::size_t used = 0;
    const long long integer = std::stoll(text, &used);
    if (used == text.size()) return integer;
    const double number = std::stod(text, &used);
    if (used == text.size()) return number;
  } catch (const std::logic_error&) {
  }
  return text;
}

ConfigSource::ConfigSource(const std::string& text, std::string label, fs::path base_dir,
                           const std::vector<std::string>& overrides)
    : text_(text), root_(load_yaml(text, label)), label_(std::move(label)), base_dir_(std::move(base_dir)) {
  if (root_.IsNull()) root_ = YAML::Node(YAML::NodeType::Map);
  if (!root_.IsMap()) throw Error(label_ + ":" + std::to_string(yaml_line(root_)) + ": expected a mapping of keys");
  for (const auto& assignment : overrides) apply_override(assignment);
}

ConfigSource::ConfigSource(const nlohmann::json& document, std::string label)
    : root_(json_to_yaml(document)), label_(std::move(label)), base_dir_(fs::current_path()) {
  if (!root_.IsMap()) throw Error(label_ + ": expected a mapping of keys");
}

ConfigSource ConfigSource::with_overrides(const std::vector<std::string>& more) const {
  std::vector<std::string> all = overrides_;
  all.insert(all.end(), more.begin(), more.end());
  return ConfigSource(text_, label_, base_dir_, all);
}

ConfigSource ConfigSource::from_file(const fs::path& path, const std::vector<std::string>& overrides,
                                     std::uintmax_t max_bytes) {
  return ConfigSource(read_config_text(path, max_bytes), path.string(), fs::absolute(path).parent_path(), overrides);
}

void ConfigSource::apply_override(const std::string& assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw Error("--set " + assignment + ": expected key=value with a dotted key, e.g. optimizer.lr=3e-4");
  }
  const std::string key = assignment.substr(0, equals);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(equals + 1));
  } catch (const YAML::Exception& error) {
    throw Error("--set " + assignment + ": the value is not valid YAML: " + error.msg);
  }
  if (const auto problem = structure_problem(value)) throw Error("--set " + assignment + ": " + problem->message);
  std::vector<std::string> parts;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) {
    if (part.empty()) throw Error("--set " + assignment + ": empty component in key '" + key + "'");
    parts.push_back(part);
  }
  YAML::Node node = root_;
  std::string prefix;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    prefix += (i ? "." : "") + parts[i];
    YAML::Node child = node[parts[i]];
    if (!child.IsDefined() || child.IsNull()) {
      node[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child = node[parts[i]];
    } else if (!child.IsMap()) {
      throw Error("--set " + assignment + ": '" + prefix + "' is not a section (it holds " + yaml_shown(child) + ")");
    }
    node.reset(child);
  }
  node[parts.back()] = value;
  overrides_.push_back(assignment);
  override_of_[key] = assignment;
}

const std::string* ConfigSource::override_of(const std::string& key) const {
  for (std::string prefix = key;;) {
    if (const auto found = override_of_.find(prefix); found != override_of_.end()) return &found->second;
    const auto cut = prefix.find_last_of(".[");
    if (cut == std::string::npos) return nullptr;
    prefix.resize(cut);
  }
}

const std::string* ConfigSource::override_under(const std::string& key) const {
  for (const auto& [set_key, assignment] : override_of_) {
    if (set_key.size() > key.size() && set_key.compare(0, key.size(), key) == 0 &&
        (set_key[key.size()] == '.' || set_key[key.size()] == '[')) {
      return &assignment;
    }
  }
  return nullptr;
}

int ConfigSource::line_of(const std::string& key, bool* complete) const {
  int line = 0;
  if (complete != nullptr) *complete = true;
  YAML::Node node = root_;
  for (const auto& part : key_parts(key)) {
    YAML::Node next;
    bool found = false;
    int next_line = 0;
    if (part.front() == '[' && node.IsSequence()) {
      const std::size_t index = std::stoul(part.substr(1, part.size() - 2));
      found = index < node.size();
      if (found) next.reset(node[index]);
      next_line = found ? yaml_line(next) : 0;
    } else if (node.IsMap()) {
      for (const auto& item : node) {
        if (item.first.IsScalar() && item.first.Scalar() == part) {
          found = true;
          next.reset(item.second);
          next_line = yaml_line(item.first);
          break;
        }
      }
    }
    // A key an override added has no line: the file does not have it.
    if (complete != nullptr) *complete = found && next_line > 0;
    if (!found) break;
    if (next_line > 0) line = next_line;
    node.reset(next);
  }
  return line;
}

std::string ConfigSource::where(const std::string& key, int line) const {
  if (const std::string* assignment = override_of(key)) return "--set " + *assignment;
  if (line <= 0) {
    bool in_file = false;
    line = line_of(key, &in_file);
    if (!in_file) {
      if (const std::string* assignment = override_under(key)) return "--set " + *assignment;
    }
  }
  return label_ + (line > 0 ? ":" + std::to_string(line) : "");
}

bool ConfigSource::from_override(const std::string& key) const { return override_of(key) != nullptr; }

fs::path ConfigSource::base_dir_for(const std::string& key) const {
  return from_override(key) ? fs::current_path() : base_dir_;
}

void ConfigSource::fail(const std::string& key, const std::string& message) const {
  throw Error(where(key) + ": " + key + ": " + message);
}

Error ConfigSource::located(const ConfigError& error, const std::string& prefix) const {
  if (prefix.empty()) return Error(where(error.key()) + ": " + error.what());
  return Error(where(prefix + "." + error.key()) + ": " + prefix + "." + error.what());
}

}  // namespace ladle::config
