#include "pipelines/evolve/evolve_config.h"

#include <algorithm>

#include "lib/merge/merge_config.h"
#include "lib/merge/merge_method.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/util/error.h"
#include "lib/util/yaml_fields.h"
#include "pipelines/evolve/merge_genome.h"

namespace ladle::evolve {
namespace {

namespace fs = std::filesystem;

class EvolveParser {
 public:
  EvolveParser(std::string label, fs::path base_dir) : fields_(std::move(label), std::move(base_dir)) {}

  EvolveConfig parse(const std::string& text) {
    const YAML::Node root = load_yaml(text, fields_.label());
    if (!root.IsMap()) fields_.fail(root, "", "expected a mapping of keys (output_dir, merge, genome, fitness, search)");
    EvolveConfig c;
    c.text = text;
    c.search.sigma = 0.25;
    c.search.max_evaluations = 200;
    c.search.max_restarts = 2;
    c.search.tol_fun = 1e-4;
    c.search.tol_x = 1e-4;
    YAML::Node merge_node;
    fields_.section(root, "",
                    {
                        {"output_dir", [&](const YAML::Node& n, const std::string& k) { c.output_dir = fields_.path(n, k); }},
                        {"merge", [&](const YAML::Node& n, const std::string&) { merge_node = n; }},
                        {"genome", [&](const YAML::Node& n, const std::string& k) { read_genome(n, k, c.genome); }},
                        {"fitness", [&](const YAML::Node& n, const std::string& k) { read_fitness(n, k, c.fitness); }},
                        {"search", [&](const YAML::Node& n, const std::string& k) { read_search(n, k, c.search); }},
                        {"merge_seed",
                         [&](const YAML::Node& n, const std::string& k) {
                           c.merge_seed = static_cast<std::uint64_t>(fields_.integer(n, k, 0));
                         }},
                    });
    if (!merge_node.IsDefined()) fields_.fail(root, "merge", "must be set: the mergekit config the genome fills in");
    if (c.genome.parameters.empty()) fields_.fail(root, "genome", "must name at least one parameter to search");
    if (c.fitness.data.empty()) fields_.fail(root, "fitness.data", "must be set: the held-out JSONL of the fitness");
    if (c.search.max_evaluations <= 0) fields_.fail(root, "search.max_evaluations", "must be set to a positive count");
    read_merge(merge_node, c);
    const MergeGenome genome(c);
    c.search.mean = genome.initial_point();
    c.search.lower.assign(genome.size(), 0.0);
    c.search.upper.assign(genome.size(), 1.0);
    // The template is checked by the merge engine's parser, on the recipe of the initial genome.
    try {
      merge::parse_merge_config(genome.recipe_yaml(c.search.mean), "merge", fields_.base_dir());
    } catch (const Error& error) {
      fields_.fail(merge_node, "merge", error.what());
    }
    return c;
  }

 private:
  // Model paths made absolute, so that the recipes written anywhere name the same files.
  void resolve_model(YAML::Node node, const std::string& key) const {
    node = fields_.path(node, key).string();
  }

  void read_merge(const YAML::Node& node, EvolveConfig& c) const {
    if (!node.IsMap()) fields_.fail(node, "merge", "expected a mergekit config mapping, got " + yaml_shown(node));
    if (node["slices"]) fields_.fail(node["slices"], "merge.slices", "evolve searches the `models` form; use models:");
    const YAML::Node models = node["models"];
    if (!models || !models.IsSequence() || models.size() < 1) {
      fields_.fail(node, "merge.models", "expected a list of at least one model");
    }
    if (!node["merge_method"]) fields_.fail(node, "merge.merge_method", "must be set");
    c.merge_method = fields_.string(node["merge_method"], "merge.merge_method");
    const merge::MergeMethod* method = nullptr;
    try {
      method = &merge::find_merge_method(c.merge_method);
    } catch (const Error& error) {
      fields_.fail(node["merge_method"], "merge.merge_method", error.what());
    }
    for (const auto& gene : c.genome.parameters) {
      const auto specs = method->parameters();
      const auto spec = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.name == gene.parameter; });
      if (spec == specs.end() || !spec->per_model) {
        std::string known;
        for (const auto& s : specs) known += s.per_model ? (known.empty() ? "" : ", ") + s.name : "";
        fields_.fail(node["merge_method"], "genome." + gene.parameter,
                     c.merge_method + " has no per-model parameter '" + gene.parameter + "'; its per-model parameters: " +
                         (known.empty() ? "none" : known));
      }
    }
    c.merge_template = YAML::Clone(node);
    YAML::Node templ = c.merge_template;
    if (templ["base_model"]) resolve_model(templ["base_model"], "merge.base_model");
    for (std::size_t i = 0; i < templ["models"].size(); ++i) {
      YAML::Node entry = templ["models"][i];
      const std::string key = "merge.models[" + std::to_string(i) + "]";
      if (!entry.IsMap() || !entry["model"]) fields_.fail(entry, key, "expected {model: PATH, ...}");
      resolve_model(entry["model"], key + ".model");
      for (const auto& gene : c.genome.parameters) {
        if (entry["parameters"] && entry["parameters"][gene.parameter]) {
          fields_.fail(entry["parameters"][gene.parameter], key + ".parameters." + gene.parameter,
                       "is searched by the genome; remove it here");
        }
      }
    }
    c.model_count = templ["models"].size();
    c.base_model = templ["base_model"] ? fs::path(templ["base_model"].Scalar())
                                       : fs::path(templ["models"][0]["model"].Scalar());
  }

  void read_genome(const YAML::Node& node, const std::string& prefix, GenomeConfig& g) const {
    if (!node.IsMap()) fields_.fail(node, prefix, "expected a mapping of parameters, got " + yaml_shown(node));
    for (const auto& item : node) {
      const std::string name = item.first.as<std::string>();
      const std::string key = prefix + "." + name;
      if (name == "layer_groups") {
        g.layer_groups = static_cast<int>(fields_.integer(item.second, key, 1));
        continue;
      }
      GeneRange range{name, 0, 0, 0};
      bool has_min = false, has_max = false, has_initial = false;
      fields_.section(item.second, key,
                      {
                          {"min",
                           [&](const YAML::Node& n, const std::string& k) {
                             range.min = fields_.number(n, k, -1e9);
                             has_min = true;
                           }},
                          {"max",
                           [&](const YAML::Node& n, const std::string& k) {
                             range.max = fields_.number(n, k, -1e9);
                             has_max = true;
                           }},
                          {"initial",
                           [&](const YAML::Node& n, const std::string& k) {
                             range.initial = fields_.number(n, k, -1e9);
                             has_initial = true;
                           }},
                      });
      if (!has_min || !has_max || !has_initial) fields_.fail(item.second, key, "needs min, max and initial");
      if (!(range.min < range.max)) fields_.fail(item.second, key, "min must be below max");
      if (range.initial < range.min || range.initial > range.max) {
        fields_.fail(item.second, key, "initial must lie in [min, max]");
      }
      g.parameters.push_back(range);
    }
  }

  void read_fitness(const YAML::Node& node, const std::string& prefix, FitnessConfig& f) const {
    auto size = [&](std::size_t& field, std::int64_t min) {
      return [&, min](const YAML::Node& n, const std::string& k) {
        field = static_cast<std::size_t>(fields_.integer(n, k, min));
      };
    };
    fields_.section(
        node, prefix,
        {
            {"data", [&](const YAML::Node& n, const std::string& k) { f.data = fields_.existing_file(n, k); }},
            {"metric",
             [&](const YAML::Node& n, const std::string& k) {
               f.metric = fields_.string(n, k);
               if (f.metric != "loss" && f.metric != "exact_match" && f.metric != "choice_accuracy") {
                 fields_.fail(n, k, "expected loss, exact_match or choice_accuracy, got " + yaml_shown(n));
               }
             }},
            {"task_weights",
             [&](const YAML::Node& n, const std::string& k) {
               if (!n.IsMap()) fields_.fail(n, k, "expected a mapping of task -> weight, got " + yaml_shown(n));
               for (const auto& item : n) {
                 const std::string task = item.first.as<std::string>();
                 f.task_weights[task] = fields_.number(item.second, k + "." + task, 0);
               }
             }},
            {"default_task_weight",
             [&](const YAML::Node& n, const std::string& k) { f.default_task_weight = fields_.number(n, k, 0); }},
            {"tokenizer",
             [&](const YAML::Node& n, const std::string& k) {
               const std::string value = fields_.string(n, k);
               f.tokenizer = value == "byte" ? value : fields_.existing_file(n, k).string();
             }},
            {"max_examples", size(f.max_examples, 0)},
            {"generation_examples", size(f.generation_examples, 0)},
            {"batch_size", size(f.batch_size, 1)},
            {"bf16", [&](const YAML::Node& n, const std::string& k) { f.bf16 = fields_.boolean(n, k); }},
            {"seed",
             [&](const YAML::Node& n, const std::string& k) {
               f.seed = static_cast<std::uint64_t>(fields_.integer(n, k, 0));
             }},
            {"workers",
             [&](const YAML::Node& n, const std::string& k) { f.workers = fields_.integer(n, k, 0); }},
        });
    if (f.metric != "loss" && f.generation_examples == 0) {
      fields_.fail(node, prefix + ".generation_examples", "must be > 0 for the metric " + f.metric);
    }
  }

  void read_search(const YAML::Node& node, const std::string& prefix, search::CmaEsOptions& s) const {
    fields_.section(
        node, prefix,
        {
            {"seed",
             [&](const YAML::Node& n, const std::string& k) { s.seed = static_cast<std::uint64_t>(fields_.integer(n, k, 0)); }},
            {"sigma", [&](const YAML::Node& n, const std::string& k) { s.sigma = fields_.number(n, k, 0, true); }},
            {"population", [&](const YAML::Node& n, const std::string& k) { s.population = fields_.integer(n, k, 0); }},
            {"max_evaluations",
             [&](const YAML::Node& n, const std::string& k) { s.max_evaluations = fields_.integer(n, k, 1); }},
            {"max_restarts",
             [&](const YAML::Node& n, const std::string& k) { s.max_restarts = static_cast<int>(fields_.integer(n, k, 0)); }},
            {"tol_fun", [&](const YAML::Node& n, const std::string& k) { s.tol_fun = fields_.number(n, k, 0); }},
            {"tol_x", [&](const YAML::Node& n, const std::string& k) { s.tol_x = fields_.number(n, k, 0); }},
            {"bound_penalty", [&](const YAML::Node& n, const std::string& k) { s.bound_penalty = fields_.number(n, k, 0); }},
        });
    if (s.population == 1) fields_.fail(node["population"], prefix + ".population", "must be 0 (default) or >= 2");
  }

  YamlFields fields_;
};

}  // namespace

EvolveConfig EvolveConfig::from_yaml_file(const std::filesystem::path& path) {
  EvolveConfig config = from_yaml(read_config_text(path), path.string(), fs::absolute(path).parent_path());
  config.config_file = fs::absolute(path).lexically_normal();
  return config;
}

EvolveConfig EvolveConfig::from_yaml(const std::string& text, const std::string& label,
                                     const std::filesystem::path& base_dir) {
  return EvolveParser(label, base_dir).parse(text);
}

}  // namespace ladle::evolve
