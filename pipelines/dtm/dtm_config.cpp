#include "pipelines/dtm/dtm_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "callbacks/averaging_callbacks.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_method.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/util/error.h"
#include "lib/util/yaml_fields.h"
#include "trainer/callback_registry.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;

// A mapping as one line of YAML flow style, to be echoed into the merge engine's config.
std::string flow_yaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

// Reads one mapping key by key against a schema; every message starts "<label>:<line>: <dotted key>: ".
class DtmParser : YamlFields {
 public:
  DtmParser(std::string label, fs::path base_dir) : YamlFields(std::move(label), std::move(base_dir)) {}

  DtmConfig parse(const std::string& text) {
    const YAML::Node root = load_yaml(text, label());
    if (!root.IsMap()) throw Error(label() + ": expected a mapping of keys (output_dir, train, cluster, ...)");
    text_ = text;
    root_ = root;
    DtmConfig c;
    bool has_train = false;
    section(root, "",
            {
                {"output_dir", [&](const YAML::Node& n, const std::string& k) { c.output_dir = path(n, k); }},
                {"train",
                 [&](const YAML::Node& n, const std::string& k) {
                   read_train(n, k, c.train);
                   has_train = true;
                 }},
                {"train_overrides", [&](const YAML::Node& n, const std::string& k) { read_overrides(n, k, c.train); }},
                {"total_steps", [&](const YAML::Node& n, const std::string& k) { c.total_steps = integer(n, k, 0); }},
                {"records",
                 [&](const YAML::Node& n, const std::string& k) {
                   c.records = static_cast<std::size_t>(integer(n, k, 0));
                 }},
                {"embed", [&](const YAML::Node& n, const std::string& k) { read_embed(n, k, c.embed); }},
                {"cluster", [&](const YAML::Node& n, const std::string& k) { read_cluster(n, k, c.cluster); }},
                {"merge", [&](const YAML::Node& n, const std::string& k) { read_merge(n, k, c.merge); }},
                {"evaluation", [&](const YAML::Node& n, const std::string& k) { read_evaluation(n, k, c.evaluation); }},
                {"baselines", [&](const YAML::Node& n, const std::string& k) { read_baselines(n, k, c.baselines); }},
            });
    if (!has_train) fail(root, "train", "must be set: a train YAML's path, or the training config inline");
    if (c.evaluation.sets.empty()) {
      fail(root, "evaluation", "must name at least one held-out set (valid, test or shifted)");
    }
    check_merge(root, c);
    // The train config and the callbacks it turns on are made now so that a bad key there stops the pipeline
    // before any work.
    std::vector<std::shared_ptr<trainer::Callback>> train_callbacks;
    try {
      train_callbacks = trainer::make_config_callbacks(c.train_config());
    } catch (const Error& error) {
      throw Error(error.what() + std::string(" (the training config of ") + label() + ")");
    }
    check_merged_weights(c, train_callbacks);
    return c;
  }

 private:
  // The inline mapping of a top-level key exactly as the file has it, with blank lines and spaces in place of
  // everything before it, so that the training config's parser names the file's own lines and columns.
  std::string section_text(const YAML::Node& value, const std::string& key) const {
    std::size_t end = std::string::npos;  // the line of the next top-level key (0-based), or the end of the text
    bool after = false;
    for (const auto& item : root_) {
      if (after) {
        end = item.first.Mark().line;
        break;
      }
      after = item.first.as<std::string>() == key;
    }
    const auto first = static_cast<std::size_t>(value.Mark().line);
    const auto column = static_cast<std::size_t>(value.Mark().column);
    std::stringstream in(text_);
    std::string section, line;
    for (std::size_t number = 0; std::getline(in, line) && number < end; ++number) {
      if (number == first) line = std::string(column, ' ') + line.substr(std::min(column, line.size()));
      section += (number < first ? "" : line) + "\n";
    }
    return section;
  }

  std::string mapping(const YAML::Node& node, const std::string& key) const {
    if (!node.IsMap()) fail(node, key, "expected a mapping of parameters, got " + yaml_shown(node));
    return flow_yaml(node);
  }

  void read_train(const YAML::Node& node, const std::string& key, DtmTrainSource& train) {
    if (node.IsMap()) {
      train.text = section_text(node, key);
      train.label = label();
      train.base_dir = base_dir();
      return;
    }
    if (!node.IsScalar()) fail(node, key, "expected a train YAML's path or a mapping, got " + yaml_shown(node));
    const fs::path file = existing_file(node, key);
    if (fs::file_size(file) > kMaxConfigBytes) fail(node, key, "'" + file.string() + "' is too large for a config");
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    train.text = text.str();
    train.label = file.string();
    train.base_dir = fs::absolute(file).parent_path();
  }

  void read_overrides(const YAML::Node& node, const std::string& key, DtmTrainSource& train) {
    if (!node.IsMap()) fail(node, key, "expected a mapping of dotted keys to values, got " + yaml_shown(node));
    for (const auto& item : node) train.overrides.push_back(item.first.as<std::string>() + "=" + flow_yaml(item.second));
  }

  void read_embed(const YAML::Node& node, const std::string& prefix, DtmEmbedConfig& e) {
    auto& o = e.embedder;
    section(node, prefix,
            {
                {"text",
                 [&](const YAML::Node& n, const std::string& k) {
                   const auto text = clustering::parse_embed_text(string(n, k));
                   if (!text) fail(n, k, "expected instruction, response or both, got " + yaml_shown(n));
                   o.text = *text;
                 }},
                {"pooling",
                 [&](const YAML::Node& n, const std::string& k) {
                   const auto pooling = clustering::parse_pooling(string(n, k));
                   if (!pooling) fail(n, k, "expected mean or last, got " + yaml_shown(n));
                   o.pooling = *pooling;
                 }},
                {"layer", [&](const YAML::Node& n, const std::string& k) { o.layer = integer(n, k, -1000000); }},
                {"batch_size", [&](const YAML::Node& n, const std::string& k) { o.batch_size = integer(n, k, 1); }},
                {"max_length", [&](const YAML::Node& n, const std::string& k) { o.max_length = integer(n, k, 2); }},
                {"bf16", [&](const YAML::Node& n, const std::string& k) { e.bf16 = boolean(n, k); }},
            });
  }

  void read_cluster(const YAML::Node& node, const std::string& prefix, clustering::KMeansOptions& o) {
    section(node, prefix,
            {
                {"k", [&](const YAML::Node& n, const std::string& k) { o.k = integer(n, k, 1); }},
                {"iterations",
                 [&](const YAML::Node& n, const std::string& k) { o.iterations = static_cast<int>(integer(n, k, 1)); }},
                {"nredo",
                 [&](const YAML::Node& n, const std::string& k) { o.nredo = static_cast<int>(integer(n, k, 1)); }},
                {"seed", [&](const YAML::Node& n, const std::string& k) { o.seed = static_cast<int>(integer(n, k, 0)); }},
                {"spherical", [&](const YAML::Node& n, const std::string& k) { o.spherical = boolean(n, k); }},
                {"max_points_per_centroid",
                 [&](const YAML::Node& n, const std::string& k) { o.max_points_per_centroid = integer(n, k, 0); }},
            });
  }

  void read_merge(const YAML::Node& node, const std::string& prefix, DtmMergeConfig& m) {
    merge_node_ = node;
    section(node, prefix,
            {
                {"merge_method", [&](const YAML::Node& n, const std::string& k) { m.merge_method = string(n, k); }},
                {"parameters", [&](const YAML::Node& n, const std::string& k) { m.parameters = mapping(n, k); }},
                {"model_parameters",
                 [&](const YAML::Node& n, const std::string& k) { m.model_parameters = mapping(n, k); }},
                {"dtype", [&](const YAML::Node& n, const std::string& k) { m.dtype = string(n, k); }},
                {"weights",
                 [&](const YAML::Node& n, const std::string& k) {
                   m.weights = string(n, k);
                   if (m.weights != "final" && m.weights != "ema" && m.weights != "swa" && m.weights != "lawa") {
                     fail(n, k, "expected final, ema, swa or lawa, got " + yaml_shown(n));
                   }
                 }},
            });
  }

  // Averaged weights to merge must be written by every run: the training config keeps that average and saves it.
  void check_merged_weights(const DtmConfig& c,
                            const std::vector<std::shared_ptr<trainer::Callback>>& train_callbacks) const {
    if (c.merge.weights == "final") return;
    for (const auto& callback : train_callbacks) {
      const auto* averaging = dynamic_cast<const callbacks::AveragingCallback*>(callback.get());
      if (callback->name() == c.merge.weights && averaging != nullptr && averaging->callback_options().save_model) {
        return;
      }
    }
    fail(merge_node_["weights"], "merge.weights",
         "the training config (" + c.train.label + ") writes no " + c.merge.weights +
             "/ model: turn it on there, e.g. averaging: {" + c.merge.weights + ": {...}}, with save_model true");
  }

  // The merge section is checked by the merge engine's own parser, on the config it will be given.
  void check_merge(const YAML::Node& root, const DtmConfig& c) const {
    const YAML::Node where = merge_node_.IsDefined() ? merge_node_ : root;
    try {
      merge::find_merge_method(c.merge.merge_method);
      merge::parse_merge_config(c.merge_yaml({"sub-model-0", "sub-model-1"}, "base"), "merge", base_dir());
    } catch (const Error& error) {
      fail(where, "merge", error.what());
    }
  }

  void read_evaluation(const YAML::Node& node, const std::string& prefix, DtmEvaluationConfig& e) {
    auto& o = e.options;
    auto set = [&](const char* label) {
      return [&, label](const YAML::Node& n, const std::string& k) { e.sets.push_back({label, existing_file(n, k)}); };
    };
    section(node, prefix,
            {
                {"valid", set("valid")},
                {"test", set("test")},
                {"shifted", set("shifted")},
                {"max_examples",
                 [&](const YAML::Node& n, const std::string& k) {
                   o.max_examples = static_cast<std::size_t>(integer(n, k, 0));
                 }},
                {"generation_examples",
                 [&](const YAML::Node& n, const std::string& k) {
                   o.generation_examples = static_cast<std::size_t>(integer(n, k, 0));
                 }},
                {"batch_size",
                 [&](const YAML::Node& n, const std::string& k) {
                   o.batch_size = static_cast<std::size_t>(integer(n, k, 1));
                 }},
                {"bf16", [&](const YAML::Node& n, const std::string& k) { o.bf16 = boolean(n, k); }},
                {"seed",
                 [&](const YAML::Node& n, const std::string& k) { o.seed = static_cast<std::uint64_t>(integer(n, k, 0)); }},
            });
  }

  void read_baselines(const YAML::Node& node, const std::string& prefix, DtmBaselineConfig& b) {
    section(node, prefix,
            {
                {"vanilla", [&](const YAML::Node& n, const std::string& k) { b.vanilla = boolean(n, k); }},
                {"random_split", [&](const YAML::Node& n, const std::string& k) { b.random_split = boolean(n, k); }},
                {"uniform_soup", [&](const YAML::Node& n, const std::string& k) { b.uniform_soup = boolean(n, k); }},
            });
  }

  std::string text_;  // the whole file
  YAML::Node root_;
  YAML::Node merge_node_;
};

}  // namespace

DtmConfig DtmConfig::from_yaml_file(const std::filesystem::path& path) {
  DtmConfig config = from_yaml(read_config_text(path, kMaxConfigBytes), path.string(), fs::absolute(path).parent_path());
  config.config_file = fs::absolute(path).lexically_normal();
  return config;
}

DtmConfig DtmConfig::from_yaml(const std::string& text, const std::string& label, const std::filesystem::path& base_dir) {
  return DtmParser(label, base_dir).parse(text);
}

trainer::TrainConfig DtmConfig::train_config(const std::vector<std::string>& run_overrides) const {
  std::vector<std::string> overrides = train.overrides;
  overrides.insert(overrides.end(), run_overrides.begin(), run_overrides.end());
  trainer::TrainConfig config = trainer::TrainConfig::from_yaml(train.text, train.label, train.base_dir, overrides);
  if (config.model.path.empty()) {
    throw Error(train.label + ": model.path: DTM fine-tunes one base model: set model.path to its Hugging Face folder");
  }
  if (config.data.format != trainer::DataFormat::instructions) {
    throw Error(train.label + ": data.format: DTM clusters instruction records; expected instructions");
  }
  if (config.data.max_train_examples != 0 || !config.data.tasks.empty()) {
    throw Error(train.label + ": data.max_train_examples / data.tasks: the DTM pipeline picks the records itself " +
                "(dtm.yml's `records`); leave these unset");
  }
  return config;
}

std::string DtmConfig::merge_yaml(const std::vector<std::filesystem::path>& models,
                                  const std::filesystem::path& base) const {
  YAML::Node model_parameters = merge.model_parameters.empty() ? YAML::Node(YAML::NodeType::Map)
                                                               : YAML::Load(merge.model_parameters);
  // mergekit's linear merge needs every model's weight; equal weights give the paper's plain average.
  if (merge.merge_method == "linear" && !model_parameters["weight"]) model_parameters["weight"] = 1.0;
  YAML::Node config;
  config["merge_method"] = merge.merge_method;
  if (merge::find_merge_method(merge.merge_method).requires_base()) config["base_model"] = base.string();
  for (const auto& model : models) {
    YAML::Node entry;
    entry["model"] = model.string();
    if (model_parameters.size() > 0) entry["parameters"] = YAML::Clone(model_parameters);  // no YAML aliases
    config["models"].push_back(entry);
  }
  if (!merge.parameters.empty()) config["parameters"] = YAML::Load(merge.parameters);
  if (!merge.dtype.empty()) config["dtype"] = merge.dtype;
  return "# Written by ladle dtm: the merge of the sub-models (dtm.yml's merge section).\n" + YAML::Dump(config) +
         "\n";
}

}  // namespace ladle::dtm
