#include "trainer/train_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "lib/util/closest_name.h"

namespace ladle::trainer {
namespace {

constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

int line_of(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

std::string scalar_text(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

// A YAML scalar or structure as JSON: quoted scalars stay strings, plain ones become null, booleans, integers
// or numbers when they read as such (YAML 1.2 core schema).
nlohmann::json to_json_value(const YAML::Node& node) {
  if (node.IsNull()) return nullptr;
  if (node.IsSequence()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : node) list.push_back(to_json_value(item));
    return list;
  }
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& item : node) object[item.first.as<std::string>()] = to_json_value(item.second);
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

using Node = YAML::Node;
using Key = std::string;

class ConfigParser {
 public:
  ConfigParser(std::string label, std::filesystem::path base_dir)
      : label_(std::move(label)), base_dir_(std::move(base_dir)) {}

  TrainConfig parse(const std::string& text, const std::vector<std::string>& overrides) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& error) {
      const std::string line = error.mark.is_null() ? "" : ":" + std::to_string(error.mark.line + 1);
      throw Error(label_ + line + ": not valid YAML: " + error.msg);
    }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) throw Error(label_ + ":" + std::to_string(line_of(root)) + ": expected a mapping of keys");
    for (const auto& assignment : overrides) apply_override(root, assignment);
    TrainConfig config;
    read_root(root, config);
    try {
      config.validate();
      config.validate_sources();
    } catch (const ConfigError& error) {
      throw Error(where(error.key()) + error.what());
    }
    return config;
  }

 private:
  using Reader = std::function<void(const YAML::Node&, const std::string&)>;
  struct Field {
    const char* key;
    Reader read;
  };

  // ---- locations ----
  // "train.yml:12: " for a key from the file, "--set a.b=c: " for one from an override.
  std::string where(const std::string& key) const {
    for (std::string prefix = key;;) {
      if (auto found = override_of_.find(prefix); found != override_of_.end()) return "--set " + found->second + ": ";
      const auto dot = prefix.rfind('.');
      if (dot == std::string::npos) break;
      prefix.resize(dot);
    }
    const auto line = line_of_key_.find(key);
    return label_ + (line != line_of_key_.end() && line->second > 0 ? ":" + std::to_string(line->second) : "") + ": ";
  }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw Error(where(key) + key + ": " + message);
  }

  // ---- overrides ----
  void apply_override(YAML::Node& root, const std::string& assignment) {
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
    std::vector<std::string> parts;
    std::stringstream stream(key);
    for (std::string part; std::getline(stream, part, '.');) {
      if (part.empty()) throw Error("--set " + assignment + ": empty component in key '" + key + "'");
      parts.push_back(part);
    }
    YAML::Node node = root;
    std::string prefix;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      prefix += (i ? "." : "") + parts[i];
      YAML::Node child = node[parts[i]];
      if (!child.IsDefined() || child.IsNull()) {
        node[parts[i]] = YAML::Node(YAML::NodeType::Map);
        child = node[parts[i]];
      } else if (!child.IsMap()) {
        throw Error("--set " + assignment + ": '" + prefix + "' is not a section (it holds " + scalar_text(child) +
                    ")");
      }
      node.reset(child);
    }
    node[parts.back()] = value;
    override_of_[key] = assignment;
  }

  // ---- sections ----
  void read_section(const YAML::Node& node, const std::string& prefix, const std::vector<Field>& fields) {
    if (!node.IsMap()) fail(prefix, "expected a mapping of keys, got " + scalar_text(node));
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      line_of_key_[path] = line_of(item.first);
      const auto field = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return key == f.key; });
      if (field == fields.end()) fail(path, unknown_key_message(key, fields));
      if (!seen_.insert(path).second) fail(path, "given twice");
      field->read(item.second, path);
    }
  }

  static std::string unknown_key_message(const std::string& key, const std::vector<Field>& fields) {
    std::string known, closest;
    std::size_t best = 3;  // suggest only near misses
    for (const auto& field : fields) {
      known += (known.empty() ? "" : ", ") + std::string(field.key);
      const std::size_t distance = edit_distance(key, field.key);
      if (distance < best) best = distance, closest = field.key;
    }
    return "unknown key" + (closest.empty() ? "" : " (did you mean '" + closest + "'?)") + "; known keys: " + known;
  }

  // ---- typed values ----
  bool boolean(const YAML::Node& node, const std::string& key) const {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      fail(key, "expected true or false, got " + scalar_text(node));
    }
    return value;
  }
  std::int64_t integer(const YAML::Node& node, const std::string& key) const {
    long long value = 0;
    if (!node.IsScalar() || !YAML::convert<long long>::decode(node, value)) {
      fail(key, "expected a whole number, got " + scalar_text(node));
    }
    return value;
  }
  std::uint64_t count(const YAML::Node& node, const std::string& key) const {
    const std::int64_t value = integer(node, key);
    if (value < 0) fail(key, "must not be negative, got " + std::to_string(value));
    return static_cast<std::uint64_t>(value);
  }
  double number(const YAML::Node& node, const std::string& key) const {
    double value = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
      fail(key, "expected a finite number, got " + scalar_text(node));
    }
    return value;
  }
  std::string string(const YAML::Node& node, const std::string& key) const {
    if (node.IsNull()) return "";
    if (!node.IsScalar()) fail(key, "expected a string, got " + scalar_text(node));
    return node.Scalar();
  }
  std::vector<std::string> strings(const YAML::Node& node, const std::string& key) const {
    if (node.IsNull()) return {};
    if (!node.IsSequence()) fail(key, "expected a list of strings, got " + scalar_text(node));
    std::vector<std::string> values;
    for (std::size_t i = 0; i < node.size(); ++i)
      values.push_back(string(node[i], key + "[" + std::to_string(i) + "]"));
    return values;
  }
  // Relative to the config file's folder, or to the current directory for a value given with --set.
  std::filesystem::path path(const YAML::Node& node, const std::string& key) const {
    const std::string text = string(node, key);
    if (text.empty()) return {};
    std::filesystem::path value(text);
    if (value.is_relative()) {
      const bool from_override = where(key).rfind("--set ", 0) == 0;
      value = (from_override ? std::filesystem::current_path() : base_dir_) / value;
    }
    return value.lexically_normal();
  }
  template <typename Enum>
  Enum choice(const YAML::Node& node, const std::string& key,
              const std::vector<std::pair<const char*, Enum>>& options) const {
    const std::string text = string(node, key);
    std::string names;
    for (const auto& [name, value] : options) {
      if (text == name) return value;
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    fail(key, "expected one of " + names + ", got " + scalar_text(node));
  }

  // ---- the schema ----
  void read_root(const YAML::Node& root, TrainConfig& c) {
    read_section(
        root, "",
        {
            {"output_dir", [&](const Node& n, const Key& k) { c.output_dir = path(n, k); }},
            {"seed", [&](const Node& n, const Key& k) { c.seed = count(n, k); }},
            {"max_steps", [&](const Node& n, const Key& k) { c.max_steps = integer(n, k); }},
            {"epochs", [&](const Node& n, const Key& k) { c.epochs = integer(n, k); }},
            {"batch_size", [&](const Node& n, const Key& k) { c.batch_size = count(n, k); }},
            {"gradient_accumulation_steps",
             [&](const Node& n, const Key& k) { c.gradient_accumulation_steps = integer(n, k); }},
            {"max_grad_norm", [&](const Node& n, const Key& k) { c.max_grad_norm = number(n, k); }},
            {"bf16", [&](const Node& n, const Key& k) { c.bf16 = boolean(n, k); }},
            {"threads",
             [&](const Node& n, const Key& k) {
               c.threads = static_cast<int>(std::clamp<std::int64_t>(integer(n, k), -1, 4096));
             }},
            {"log_every_steps", [&](const Node& n, const Key& k) { c.log_every_steps = integer(n, k); }},
            {"overwrite_output_dir", [&](const Node& n, const Key& k) { c.overwrite_output_dir = boolean(n, k); }},
            {"retain_freed_memory", [&](const Node& n, const Key& k) { c.retain_freed_memory = boolean(n, k); }},
            {"model", [&](const Node& n, const Key& k) { read_model(n, k, c.model); }},
            {"tokenizer", [&](const Node& n, const Key& k) { read_tokenizer(n, k, c.tokenizer); }},
            {"data", [&](const Node& n, const Key& k) { read_data(n, k, c.data); }},
            {"lora", [&](const Node& n, const Key& k) { read_lora(n, k, c.lora); }},
            {"optimizer", [&](const Node& n, const Key& k) { read_optimizer(n, k, c.optimizer); }},
            {"schedule", [&](const Node& n, const Key& k) { read_schedule(n, k, c.schedule); }},
            {"evaluation", [&](const Node& n, const Key& k) { read_evaluation(n, k, c.evaluation); }},
            {"checkpoint", [&](const Node& n, const Key& k) { read_checkpoint(n, k, c.checkpoint); }},
            {"fisher", [&](const Node& n, const Key& k) { read_fisher(n, k, c.fisher); }},
            {"distributed", [&](const Node& n, const Key& k) { read_distributed(n, k, c.distributed); }},
            {"callbacks", [&](const Node& n, const Key& k) { read_callbacks(n, k, c.callbacks); }},
            {"averaging", [&](const Node& n, const Key& k) { read_averaging(n, k, c.averaging); }},
            {"online_merging", [&](const Node& n, const Key& k) { read_online_merging(n, k, c.online_merging); }},
        });
  }

  void read_online_merging(const YAML::Node& node, const std::string& prefix, OnlineMergingConfig& o) {
    read_section(
        node, prefix,
        {
            {"reference_model", [&](const Node& n, const Key& k) { o.reference_model = path(n, k); }},
            {"base_model", [&](const Node& n, const Key& k) { o.base_model = path(n, k); }},
            {"operator",
             [&](const Node& n, const Key& k) {
               o.op = choice<std::string>(n, k, {{"ondare", "ondare"}, {"onties", "onties"}});
             }},
            {"density", [&](const Node& n, const Key& k) { o.density = number(n, k); }},
            {"reference_weight", [&](const Node& n, const Key& k) { o.reference_weight = number(n, k); }},
            {"rescale", [&](const Node& n, const Key& k) { o.rescale = boolean(n, k); }},
            {"clip", [&](const Node& n, const Key& k) { o.clip = number(n, k); }},
            {"sign_election",
             [&](const Node& n, const Key& k) {
               o.sign_election = choice<std::string>(n, k, {{"sum", "sum"}, {"weighted", "weighted"}});
             }},
            {"merge_every", [&](const Node& n, const Key& k) { o.merge_every = integer(n, k); }},
            {"seed", [&](const Node& n, const Key& k) { o.seed = count(n, k); }},
        });
  }

  // Only the shape is checked here; the callbacks library checks the keys (AveragingSection says why).
  void read_averaging(const YAML::Node& node, const std::string& key, AveragingSection& averaging) {
    if (node.IsNull()) return;
    if (!node.IsMap()) fail(key, "expected a mapping of averaging callbacks (ema, swa, ...), got " + scalar_text(node));
    averaging.section = to_json_value(node);
    const std::string location = where(key);
    const bool from_override = location.rfind("--set ", 0) == 0;
    averaging.base_dir = from_override ? std::filesystem::current_path() : base_dir_;
    averaging.source = location.substr(0, location.size() - 2);  // without the ": " that where() ends with
  }

  void read_callbacks(const YAML::Node& node, const std::string& key, std::vector<CallbackSpec>& callbacks) {
    if (node.IsNull()) return;
    if (!node.IsSequence()) fail(key, "expected a list of {type: ..., options...} entries, got " + scalar_text(node));
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string entry_key = key + "[" + std::to_string(i) + "]";
      line_of_key_[entry_key] = line_of(node[i]);
      if (!node[i].IsMap()) fail(entry_key, "expected a mapping with a type, got " + scalar_text(node[i]));
      CallbackSpec spec;
      spec.where = where(entry_key) + entry_key;
      spec.base_dir = spec.where.rfind("--set ", 0) == 0 ? std::filesystem::current_path() : base_dir_;
      for (const auto& item : node[i]) {
        const std::string name = item.first.as<std::string>();
        if (name == "type") {
          spec.type = string(item.second, entry_key + ".type");
        } else {
          spec.options[name] = to_json_value(item.second);
        }
      }
      if (spec.type.empty()) fail(entry_key, "needs a type (the callback's registered name, e.g. ema)");
      callbacks.push_back(std::move(spec));
    }
  }

  void read_model(const YAML::Node& node, const std::string& prefix, ModelConfig& m) {
    read_section(node, prefix,
                 {
                     {"path", [&](const Node& n, const Key& k) { m.path = path(n, k); }},
                     {"config",
                      [&](const Node& n, const Key& k) {
                        if (!n.IsMap()) fail(k, "expected a mapping of config.json fields, got " + scalar_text(n));
                        m.config = to_json_value(n);
                      }},
                     {"config_file", [&](const Node& n, const Key& k) { m.config_file = path(n, k); }},
                     {"init_seed", [&](const Node& n, const Key& k) { m.init_seed = count(n, k); }},
                 });
  }

  void read_tokenizer(const YAML::Node& node, const std::string& prefix, TokenizerConfig& t) {
    read_section(node, prefix,
                 {
                     {"type",
                      [&](const Node& n, const Key& k) {
                        t.type = choice<TokenizerKind>(
                            n, k, {{"sentencepiece", TokenizerKind::sentencepiece}, {"byte", TokenizerKind::byte}});
                      }},
                     {"path", [&](const Node& n, const Key& k) { t.path = path(n, k); }},
                     {"train_input", [&](const Node& n, const Key& k) { t.train_input = path(n, k); }},
                     {"vocab_size", [&](const Node& n, const Key& k) { t.vocab_size = integer(n, k); }},
                     {"train_sentences", [&](const Node& n, const Key& k) { t.train_sentences = integer(n, k); }},
                 });
  }

  void read_data(const YAML::Node& node, const std::string& prefix, DataConfig& d) {
    read_section(
        node, prefix,
        {
            {"format",
             [&](const Node& n, const Key& k) {
               d.format =
                   choice<DataFormat>(n, k, {{"instructions", DataFormat::instructions}, {"text", DataFormat::text}});
             }},
            {"train", [&](const Node& n, const Key& k) { d.train = path(n, k); }},
            {"valid", [&](const Node& n, const Key& k) { d.valid = path(n, k); }},
            {"max_length", [&](const Node& n, const Key& k) { d.max_length = count(n, k); }},
            {"block_size", [&](const Node& n, const Key& k) { d.block_size = count(n, k); }},
            {"train_on_all_tokens", [&](const Node& n, const Key& k) { d.train_on_all_tokens = boolean(n, k); }},
            {"tasks", [&](const Node& n, const Key& k) { d.tasks = strings(n, k); }},
            {"max_train_examples", [&](const Node& n, const Key& k) { d.max_train_examples = count(n, k); }},
            {"skip_bad_lines", [&](const Node& n, const Key& k) { d.skip_bad_lines = boolean(n, k); }},
        });
  }

  void read_lora(const YAML::Node& node, const std::string& prefix, LoraConfig& l) {
    read_section(node, prefix,
                 {
                     {"enabled", [&](const Node& n, const Key& k) { l.enabled = boolean(n, k); }},
                     {"r", [&](const Node& n, const Key& k) { l.r = integer(n, k); }},
                     {"alpha", [&](const Node& n, const Key& k) { l.alpha = number(n, k); }},
                     {"dropout", [&](const Node& n, const Key& k) { l.dropout = number(n, k); }},
                     {"target_modules", [&](const Node& n, const Key& k) { l.target_modules = strings(n, k); }},
                     {"save_merged", [&](const Node& n, const Key& k) { l.save_merged = boolean(n, k); }},
                 });
  }

  void read_optimizer(const YAML::Node& node, const std::string& prefix, OptimizerConfig& o) {
    read_section(
        node, prefix,
        {
            {"name",
             [&](const Node& n, const Key& k) {
               o.name = choice<OptimizerKind>(n, k, {{"adamw", OptimizerKind::adamw}, {"sgd", OptimizerKind::sgd}});
             }},
            {"lr", [&](const Node& n, const Key& k) { o.lr = number(n, k); }},
            {"betas",
             [&](const Node& n, const Key& k) {
               if (!n.IsSequence() || n.size() != 2) fail(k, "expected a list of two numbers, got " + scalar_text(n));
               o.beta1 = number(n[0], k + "[0]");
               o.beta2 = number(n[1], k + "[1]");
             }},
            {"eps", [&](const Node& n, const Key& k) { o.eps = number(n, k); }},
            {"weight_decay", [&](const Node& n, const Key& k) { o.weight_decay = number(n, k); }},
            {"momentum", [&](const Node& n, const Key& k) { o.momentum = number(n, k); }},
            {"nesterov", [&](const Node& n, const Key& k) { o.nesterov = boolean(n, k); }},
            {"decay_embeddings", [&](const Node& n, const Key& k) { o.decay_embeddings = boolean(n, k); }},
        });
  }

  void read_schedule(const YAML::Node& node, const std::string& prefix, ScheduleConfig& s) {
    read_section(node, prefix,
                 {
                     {"name",
                      [&](const Node& n, const Key& k) {
                        s.name = choice<ScheduleKind>(n, k,
                                                      {{"constant", ScheduleKind::constant},
                                                       {"linear", ScheduleKind::linear},
                                                       {"cosine", ScheduleKind::cosine}});
                      }},
                     {"warmup_steps", [&](const Node& n, const Key& k) { s.warmup_steps = integer(n, k); }},
                     {"min_lr_ratio", [&](const Node& n, const Key& k) { s.min_lr_ratio = number(n, k); }},
                 });
  }

  void read_evaluation(const YAML::Node& node, const std::string& prefix, EvaluationConfig& e) {
    read_section(node, prefix,
                 {
                     {"every_steps", [&](const Node& n, const Key& k) { e.every_steps = integer(n, k); }},
                     {"at_end", [&](const Node& n, const Key& k) { e.at_end = boolean(n, k); }},
                     {"max_examples", [&](const Node& n, const Key& k) { e.max_examples = count(n, k); }},
                     {"batch_size", [&](const Node& n, const Key& k) { e.batch_size = count(n, k); }},
                     {"generation_examples", [&](const Node& n, const Key& k) { e.generation_examples = count(n, k); }},
                     {"max_new_tokens", [&](const Node& n, const Key& k) { e.max_new_tokens = integer(n, k); }},
                     {"choices",
                      [&](const Node& n, const Key& k) {
                        if (n.IsNull()) return;
                        if (!n.IsMap())
                          fail(k, "expected a mapping from task to a list of replies, got " + scalar_text(n));
                        for (const auto& item : n) {
                          const std::string task = item.first.as<std::string>();
                          line_of_key_[k + "." + task] = line_of(item.first);
                          e.choices[task] = strings(item.second, k + "." + task);
                        }
                      }},
                     {"auto_choices", [&](const Node& n, const Key& k) { e.auto_choices = count(n, k); }},
                 });
  }

  void read_checkpoint(const YAML::Node& node, const std::string& prefix, CheckpointConfig& c) {
    read_section(node, prefix,
                 {
                     {"every_steps", [&](const Node& n, const Key& k) { c.every_steps = integer(n, k); }},
                     {"keep_last", [&](const Node& n, const Key& k) { c.keep_last = count(n, k); }},
                     {"at_end", [&](const Node& n, const Key& k) { c.at_end = boolean(n, k); }},
                 });
  }

  void read_fisher(const YAML::Node& node, const std::string& prefix, FisherConfig& f) {
    read_section(node, prefix,
                 {
                     {"enabled", [&](const Node& n, const Key& k) { f.enabled = boolean(n, k); }},
                     {"examples", [&](const Node& n, const Key& k) { f.examples = count(n, k); }},
                 });
  }

  void read_distributed(const YAML::Node& node, const std::string& prefix, DistributedConfig& d) {
    read_section(node, prefix,
                 {
                     {"backend", [&](const Node& n, const Key& k) { d.backend = string(n, k); }},
                     {"timeout_seconds", [&](const Node& n, const Key& k) { d.timeout_seconds = number(n, k); }},
                 });
  }

  std::string label_;
  std::filesystem::path base_dir_;
  std::map<std::string, std::string> override_of_;  // key -> the --set argument that gave it
  std::map<std::string, int> line_of_key_;          // key -> its line in the file
  std::set<std::string> seen_;
};

void require(bool condition, const std::string& key, const std::string& message) {
  if (!condition) throw ConfigError(key, message);
}

void require_file(const std::filesystem::path& path, const std::string& key, const std::string& what) {
  std::error_code error;
  require(std::filesystem::is_regular_file(path, error), key, what + " '" + path.string() + "' does not exist");
}

std::string number_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

}  // namespace

const char* tokenizer_kind_name(TokenizerKind kind) { return kind == TokenizerKind::byte ? "byte" : "sentencepiece"; }
const char* data_format_name(DataFormat format) { return format == DataFormat::text ? "text" : "instructions"; }
const char* optimizer_kind_name(OptimizerKind kind) { return kind == OptimizerKind::sgd ? "sgd" : "adamw"; }
const char* schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::constant:
      return "constant";
    case ScheduleKind::linear:
      return "linear";
    case ScheduleKind::cosine:
      return "cosine";
  }
  return "unknown";
}

TrainConfig TrainConfig::from_yaml_file(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) throw Error(path.string() + ": no such config file");
  if (std::filesystem::file_size(path, error) > kMaxConfigBytes) {
    throw Error(path.string() + ": larger than " + std::to_string(kMaxConfigBytes) + " bytes; not a training config");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw Error(path.string() + ": cannot read the file");
  const auto absolute = std::filesystem::absolute(path);
  return from_yaml(text.str(), path.string(), absolute.parent_path(), overrides);
}

TrainConfig TrainConfig::from_yaml(const std::string& text, const std::string& label,
                                   const std::filesystem::path& base_dir, const std::vector<std::string>& overrides) {
  return ConfigParser(label, base_dir).parse(text, overrides);
}

void TrainConfig::validate() const {
  require(!output_dir.empty(), "output_dir", "must be set");
  require(max_steps >= 0, "max_steps", "must not be negative");
  require(max_steps > 0 || epochs > 0, "epochs", "must be positive when max_steps is 0 (one of them sets the budget)");
  require(epochs >= 0, "epochs", "must not be negative");
  require(batch_size > 0, "batch_size", "must be positive");
  require(gradient_accumulation_steps > 0, "gradient_accumulation_steps", "must be positive");
  require(max_grad_norm >= 0, "max_grad_norm", "must not be negative (0: no clipping)");
  require(threads >= 0, "threads", "must not be negative (0: every core)");
  require(log_every_steps > 0, "log_every_steps", "must be positive");

  if (lora.enabled) {
    require(lora.r > 0, "lora.r", "must be positive");
    require(lora.alpha > 0, "lora.alpha", "must be positive");
    require(lora.dropout >= 0 && lora.dropout < 1, "lora.dropout", "must be in [0, 1)");
    require(!lora.target_modules.empty(), "lora.target_modules", "must name at least one module");
  }

  require(optimizer.lr > 0, "optimizer.lr", "must be positive, got " + number_text(optimizer.lr));
  require(optimizer.beta1 >= 0 && optimizer.beta1 < 1, "optimizer.betas", "beta1 must be in [0, 1)");
  require(optimizer.beta2 >= 0 && optimizer.beta2 < 1, "optimizer.betas", "beta2 must be in [0, 1)");
  require(optimizer.eps > 0, "optimizer.eps", "must be positive");
  require(optimizer.weight_decay >= 0, "optimizer.weight_decay", "must not be negative");
  require(optimizer.momentum >= 0 && optimizer.momentum < 1, "optimizer.momentum", "must be in [0, 1)");
  require(!optimizer.nesterov || optimizer.momentum > 0, "optimizer.nesterov", "needs a positive momentum");

  require(schedule.warmup_steps >= 0, "schedule.warmup_steps", "must not be negative");
  require(schedule.min_lr_ratio >= 0 && schedule.min_lr_ratio <= 1, "schedule.min_lr_ratio", "must be in [0, 1]");

  require(evaluation.every_steps >= 0, "evaluation.every_steps", "must not be negative (0: only at the end)");
  require(evaluation.batch_size > 0, "evaluation.batch_size", "must be positive");
  require(evaluation.max_new_tokens > 0, "evaluation.max_new_tokens", "must be positive");
  for (const auto& [task, replies] : evaluation.choices) {
    require(replies.size() >= 2, "evaluation.choices." + task, "needs at least two candidate replies");
  }

  require(checkpoint.every_steps >= 0, "checkpoint.every_steps", "must not be negative (0: none during training)");
  require(!fisher.enabled || fisher.examples > 0, "fisher.examples", "must be positive");

  require(distributed.backend == "auto" || distributed.backend == "gloo" || distributed.backend == "nccl",
          "distributed.backend", "expected one of auto, gloo, nccl, got '" + distributed.backend + "'");
  require(distributed.timeout_seconds > 0, "distributed.timeout_seconds", "must be positive");

  if (online_merging.enabled()) {
    require(online_merging.op == "ondare" || online_merging.op == "onties", "online_merging.operator",
            "expected one of ondare, onties, got '" + online_merging.op + "'");
    require(online_merging.density > 0 && online_merging.density <= 1, "online_merging.density",
            "must be in (0, 1] (the fraction of entries kept), got " + number_text(online_merging.density));
    require(online_merging.reference_weight >= 0 && online_merging.reference_weight <= 1,
            "online_merging.reference_weight",
            "must be in [0, 1] (the update is weighted 1 minus it), got " + number_text(online_merging.reference_weight));
    require(std::isfinite(online_merging.clip) && online_merging.clip >= 0, "online_merging.clip",
            "must be a finite number ≥ 0 (0: no clamping), got " + number_text(online_merging.clip));
    require(online_merging.merge_every >= 1, "online_merging.merge_every",
            "must be ≥ 1 (1: merge at every step), got " + std::to_string(online_merging.merge_every));
    require(!lora.enabled, "online_merging.reference_model",
            "online merging merges full-weight updates; it cannot be combined with lora.enabled");
  } else {
    require(online_merging.base_model.empty(), "online_merging.base_model",
            "is set but online_merging.reference_model is not (online merging is off without a reference)");
  }
}

void TrainConfig::validate_sources() const {
  const bool fresh = model.path.empty();
  require(!fresh || !model.config.is_null() || !model.config_file.empty(), "model.path",
          "must be set (a Hugging Face folder), or model.config / model.config_file for a fresh model");
  require(fresh || (model.config.is_null() && model.config_file.empty()), "model.config",
          "a fresh model's config and model.path (a model to fine-tune) exclude each other");
  require(model.config.is_null() || model.config_file.empty(), "model.config_file",
          "give the fresh model's config inline (model.config) or as a file, not both");
  if (!fresh) {
    std::error_code error;
    require(std::filesystem::is_directory(model.path, error) || std::filesystem::is_regular_file(model.path, error),
            "model.path", "'" + model.path.string() + "' does not exist");
  }
  if (!model.config_file.empty()) require_file(model.config_file, "model.config_file", "config file");

  if (tokenizer.type == TokenizerKind::sentencepiece) {
    require(!tokenizer.path.empty() || !fresh, "tokenizer.path",
            "must be set for a fresh model (a model folder's tokenizer.model is used otherwise)");
    const std::filesystem::path model_file = tokenizer.path.empty() ? model.path / "tokenizer.model" : tokenizer.path;
    std::error_code error;
    if (!std::filesystem::exists(model_file, error)) {
      require(!tokenizer.train_input.empty(), "tokenizer.path",
              "'" + model_file.string() + "' does not exist (set tokenizer.train_input to train one)");
      require_file(tokenizer.train_input, "tokenizer.train_input", "text file");
    }
    require(tokenizer.vocab_size >= 16, "tokenizer.vocab_size", "must be at least 16");
    require(tokenizer.train_sentences >= 0, "tokenizer.train_sentences", "must not be negative (0: all)");
  }

  require(!data.train.empty(), "data.train", "must be set (instruction JSONL or a plain-text corpus)");
  require_file(data.train, "data.train", "training data");
  if (!data.valid.empty()) require_file(data.valid, "data.valid", "held-out data");
  require(data.max_length == 0 || data.max_length >= 4, "data.max_length", "must be 0 (no limit) or at least 4");
  require(data.block_size >= 1, "data.block_size", "must be positive");
  require(data.format == DataFormat::instructions || data.tasks.empty(), "data.tasks",
          "selects instruction tasks; plain text has none");

  require(!fisher.enabled || !data.valid.empty(), "fisher.enabled", "needs held-out data (data.valid)");

  for (const auto& [key, folder] : {std::pair<const char*, const std::filesystem::path&>{
                                        "online_merging.reference_model", online_merging.reference_model},
                                    {"online_merging.base_model", online_merging.base_model}}) {
    std::error_code error;
    require(folder.empty() || std::filesystem::is_directory(folder, error), key,
            "'" + folder.string() + "' is not a folder (a Hugging Face model folder)");
  }
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json callback_list = nlohmann::json::array();
  for (const auto& spec : callbacks) {
    nlohmann::json entry = spec.options;
    entry["type"] = spec.type;
    callback_list.push_back(entry);
  }
  nlohmann::json choices = nlohmann::json::object();
  for (const auto& [task, replies] : evaluation.choices) choices[task] = replies;
  return {
      {"output_dir", output_dir.string()},
      {"seed", seed},
      {"max_steps", max_steps},
      {"epochs", epochs},
      {"batch_size", batch_size},
      {"gradient_accumulation_steps", gradient_accumulation_steps},
      {"max_grad_norm", max_grad_norm},
      {"bf16", bf16},
      {"threads", threads},
      {"log_every_steps", log_every_steps},
      {"overwrite_output_dir", overwrite_output_dir},
      {"retain_freed_memory", retain_freed_memory},
      {"model",
       {{"path", model.path.string()},
        {"config", model.config},
        {"config_file", model.config_file.string()},
        {"init_seed", model.init_seed}}},
      {"tokenizer",
       {{"type", tokenizer_kind_name(tokenizer.type)},
        {"path", tokenizer.path.string()},
        {"train_input", tokenizer.train_input.string()},
        {"vocab_size", tokenizer.vocab_size},
        {"train_sentences", tokenizer.train_sentences}}},
      {"data",
       {{"format", data_format_name(data.format)},
        {"train", data.train.string()},
        {"valid", data.valid.string()},
        {"max_length", data.max_length},
        {"block_size", data.block_size},
        {"train_on_all_tokens", data.train_on_all_tokens},
        {"tasks", data.tasks},
        {"max_train_examples", data.max_train_examples},
        {"skip_bad_lines", data.skip_bad_lines}}},
      {"lora",
       {{"enabled", lora.enabled},
        {"r", lora.r},
        {"alpha", lora.alpha},
        {"dropout", lora.dropout},
        {"target_modules", lora.target_modules},
        {"save_merged", lora.save_merged}}},
      {"optimizer",
       {{"name", optimizer_kind_name(optimizer.name)},
        {"lr", optimizer.lr},
        {"betas", {optimizer.beta1, optimizer.beta2}},
        {"eps", optimizer.eps},
        {"weight_decay", optimizer.weight_decay},
        {"momentum", optimizer.momentum},
        {"nesterov", optimizer.nesterov},
        {"decay_embeddings", optimizer.decay_embeddings}}},
      {"schedule",
       {{"name", schedule_kind_name(schedule.name)},
        {"warmup_steps", schedule.warmup_steps},
        {"min_lr_ratio", schedule.min_lr_ratio}}},
      {"evaluation",
       {{"every_steps", evaluation.every_steps},
        {"at_end", evaluation.at_end},
        {"max_examples", evaluation.max_examples},
        {"batch_size", evaluation.batch_size},
        {"generation_examples", evaluation.generation_examples},
        {"max_new_tokens", evaluation.max_new_tokens},
        {"choices", choices},
        {"auto_choices", evaluation.auto_choices}}},
      {"checkpoint",
       {{"every_steps", checkpoint.every_steps}, {"keep_last", checkpoint.keep_last}, {"at_end", checkpoint.at_end}}},
      {"fisher", {{"enabled", fisher.enabled}, {"examples", fisher.examples}}},
      {"distributed", {{"backend", distributed.backend}, {"timeout_seconds", distributed.timeout_seconds}}},
      {"callbacks", callback_list},
      {"averaging", averaging.section},
      {"online_merging",
       {{"reference_model", online_merging.reference_model.string()},
        {"base_model", online_merging.base_model.string()},
        {"operator", online_merging.op},
        {"density", online_merging.density},
        {"reference_weight", online_merging.reference_weight},
        {"rescale", online_merging.rescale},
        {"clip", online_merging.clip},
        {"sign_election", online_merging.sign_election},
        {"merge_every", online_merging.merge_every},
        {"seed", online_merging.seed}}},
  };
}

}  // namespace ladle::trainer
