#include "pipelines/evolve/evolve_config.h"

#include <algorithm>

#include "lib/config/config_source.h"
#include "lib/config/device_value.h"
#include "lib/config/schema.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_method.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/util/error.h"
#include "pipelines/evolve/merge_genome.h"

namespace ladle::evolve {
namespace {

namespace fs = std::filesystem;

using config::above;
using config::at_least;
using config::Choices;
using config::ConfigSource;
using config::CustomValue;
using config::Schema;
using config::YamlValue;

const Schema<GeneRange>& gene_schema() {
  static const auto schema = Schema<GeneRange>("One searched parameter: its bounds and starting value.")
                                 .field("min", &GeneRange::min, "the lowest value searched")
                                 .field("max", &GeneRange::max, "the highest value searched")
                                 .field("initial", &GeneRange::initial, "the starting value, in [min, max]");
  return schema;
}

// `genome:`: the searched parameters by name (each {min, max, initial}, all three required) and layer_groups.
CustomValue<GenomeConfig> genome_value() {
  return {"a mapping of parameter -> {min, max, initial}, and layer_groups",
          [](const YamlValue& value) {
            if (!value.node.IsMap()) value.expected("a mapping of parameters");
            GenomeConfig genome;
            for (const auto& item : value.node) {
              const YamlValue entry = value.member(item);
              const std::string name = item.first.as<std::string>();
              if (name == "layer_groups") {
                genome.layer_groups =
                    config::ValueType<int>::read(entry, at_least(1).intersect(config::ValueType<int>::natural_range()));
                continue;
              }
              if (!entry.node.IsMap() || !entry.node["min"] || !entry.node["max"] || !entry.node["initial"]) {
                entry.fail("needs min, max and initial");
              }
              GeneRange range{name};
              gene_schema().read(entry, range);
              if (!(range.min < range.max)) entry.fail("min must be below max");
              if (range.initial < range.min || range.initial > range.max) entry.fail("initial must lie in [min, max]");
              genome.parameters.push_back(range);
            }
            return genome;
          },
          [](const GenomeConfig& genome) {
            nlohmann::json object = {{"layer_groups", genome.layer_groups}};
            for (const auto& gene : genome.parameters) object[gene.parameter] = gene_schema().to_json(gene);
            return object;
          }};
}

// fitness.tokenizer: "byte", or a sentencepiece file that exists.
CustomValue<std::string> tokenizer_value() {
  return {"byte, a sentencepiece file, or empty",
          [](const YamlValue& value) {
            const std::string text = config::ValueType<std::string>::read(value, {});
            if (text.empty() || text == "byte") return text;
            const fs::path file = value.resolved(text);
            std::error_code error;
            if (!fs::is_regular_file(file, error)) value.fail("'" + file.string() + "' does not exist");
            return file.string();
          },
          [](const std::string& tokenizer) { return nlohmann::json(tokenizer); }};
}

const Schema<FitnessConfig>& fitness_schema() {
  static const auto schema =
      Schema<FitnessConfig>("Held-out task data the candidates are scored on (lower is better).")
          .field("data", &FitnessConfig::data, "instruction JSONL with a task per record (required)")
          .choice("metric", &FitnessConfig::metric,
                  Choices<std::string>{
                      {"loss", "loss"}, {"exact_match", "exact_match"}, {"choice_accuracy", "choice_accuracy"}},
                  "loss (mean response loss per task), exact_match or choice_accuracy")
          .field("task_weights", &FitnessConfig::task_weights, at_least(0),
                 "task -> weight of its metric in the mean (unlisted tasks: default_task_weight)")
          .field("default_task_weight", &FitnessConfig::default_task_weight, at_least(0),
                 "weight of tasks not in task_weights (0: only the listed tasks count)")
          .custom("tokenizer", &FitnessConfig::tokenizer, tokenizer_value(),
                  "a tokenizer folder or file, byte, or empty: the base model's tokenizer")
          .field("max_examples", &FitnessConfig::max_examples, "a seeded subset of data (0: all)")
          .field("generation_examples", &FitnessConfig::generation_examples,
                 "examples generated for the accuracy metrics (> 0 for them)")
          .field("batch_size", &FitnessConfig::batch_size, at_least(1), "examples per forward")
          .field("bf16", &FitnessConfig::bf16, "bf16 autocast for the forward passes")
          .field("seed", &FitnessConfig::seed, "picks the subsets")
          .field("workers", &FitnessConfig::workers, at_least(0),
                 "candidates scored at once, each on one ATen thread (0: as many as ATen threads, population and "
                 "memory allow)");
  return schema;
}

const Schema<search::CmaEsOptions>& search_schema() {
  static const auto schema =
      Schema<search::CmaEsOptions>("CMA-ES (lib/search/cma_es.h) over the genes scaled to [0, 1].")
          .field("seed", &search::CmaEsOptions::seed, "the random stream")
          .field("sigma", &search::CmaEsOptions::sigma, above(0),
                 "initial step size, in units of each gene's [min, max] width")
          .field("population", &search::CmaEsOptions::population, at_least(0),
                 "candidates per generation (0: 4 + floor(3 ln n) for n genes; else at least 2)")
          .field("max_evaluations", &search::CmaEsOptions::max_evaluations, at_least(1),
                 "candidates merged and scored in all")
          .field("max_restarts", &search::CmaEsOptions::max_restarts, at_least(0),
                 "IPOP restarts (population doubled) when a run stalls")
          .field("tol_fun", &search::CmaEsOptions::tol_fun, at_least(0),
                 "a run ends when its recent best values differ by less (fitness units)")
          .field("tol_x", &search::CmaEsOptions::tol_x, at_least(0), "or when its steps are smaller (gene units)")
          .field("bound_penalty", &search::CmaEsOptions::bound_penalty, at_least(0),
                 "weight of the squared distance outside [min, max]");
  return schema;
}

// `merge:` is kept as written; read_merge checks it once the genome is known.
CustomValue<YAML::Node> merge_value() {
  return {"a mergekit config in the models form",
          [](const YamlValue& value) {
            if (!value.node.IsMap()) value.expected("a mergekit config mapping");
            return YAML::Clone(value.node);
          },
          [](const YAML::Node& node) { return config::yaml_to_json(node); }};
}

}  // namespace

const config::Schema<EvolveConfig>& evolve_config_schema() {
  static const auto schema =
      Schema<EvolveConfig>("A CMA-ES search for a merge recipe.")
          .field("output_dir", &EvolveConfig::output_dir,
                 "state.json, candidates.jsonl, recipe.yml, result.json, model/")
          .custom("merge", &EvolveConfig::merge_template, merge_value(),
                  "the template of every candidate: values written here are fixed, the genome's parameters are set "
                  "per model")
          .custom("genome", &EvolveConfig::genome, genome_value(),
                  "the searched per-model parameters of the method; layer_groups > 1 makes each model's value a "
                  "gradient of that many points over the layers")
          .section("fitness", &EvolveConfig::fitness, fitness_schema())
          .section("search", &EvolveConfig::search, search_schema())
          .field("merge_seed", &EvolveConfig::merge_seed, "seed of random merge methods (dare_*, della*)")
          .custom("device", &EvolveConfig::device, config::device_value(),
                  "where the candidates are merged and scored: cpu, cuda, cuda:N or auto");
  return schema;
}

namespace {

// Model paths made absolute, so that the recipes written anywhere name the same files.
void resolve_model(const ConfigSource& source, YAML::Node node, const std::string& key) {
  const fs::path path(node.Scalar());
  node = (path.is_relative() ? source.base_dir_for(key) / path : path).lexically_normal().string();
}

// The merge template against the genome: the models form, a known method with each searched parameter per model,
// and no searched parameter fixed in a model's entry.
void read_merge(const ConfigSource& source, EvolveConfig& c) {
  const YAML::Node& node = c.merge_template;
  if (node["slices"]) source.fail("merge.slices", "evolve searches the `models` form; use models:");
  const YAML::Node models = node["models"];
  if (!models || !models.IsSequence() || models.size() < 1) {
    source.fail("merge.models", "expected a list of at least one model");
  }
  if (!node["merge_method"] || !node["merge_method"].IsScalar()) source.fail("merge.merge_method", "must be set");
  c.merge_method = node["merge_method"].Scalar();
  const merge::MergeMethod* method = nullptr;
  try {
    method = &merge::find_merge_method(c.merge_method);
  } catch (const Error& error) {
    source.fail("merge.merge_method", error.what());
  }
  const auto specs = method->parameters();
  for (const auto& gene : c.genome.parameters) {
    const auto spec = std::find_if(specs.begin(), specs.end(), [&](const auto& s) { return s.name == gene.parameter; });
    if (spec == specs.end() || !spec->per_model) {
      std::vector<std::string> known;
      for (const auto& s : specs) {
        if (s.per_model) known.push_back(s.name);
      }
      source.fail("genome." + gene.parameter,
                  c.merge_method + " has no per-model parameter '" + gene.parameter +
                      "'; its per-model parameters: " + (known.empty() ? "none" : config::comma_list(known)));
    }
  }
  YAML::Node templ = c.merge_template;
  if (templ["base_model"]) resolve_model(source, templ["base_model"], "merge.base_model");
  for (std::size_t i = 0; i < templ["models"].size(); ++i) {
    YAML::Node entry = templ["models"][i];
    const std::string key = "merge.models[" + std::to_string(i) + "]";
    if (!entry.IsMap() || !entry["model"] || !entry["model"].IsScalar())
      source.fail(key, "expected {model: PATH, ...}");
    resolve_model(source, entry["model"], key + ".model");
    for (const auto& gene : c.genome.parameters) {
      if (entry["parameters"] && entry["parameters"][gene.parameter]) {
        source.fail(key + ".parameters." + gene.parameter, "is searched by the genome; remove it here");
      }
    }
  }
  c.model_count = templ["models"].size();
  c.base_model =
      templ["base_model"] ? fs::path(templ["base_model"].Scalar()) : fs::path(templ["models"][0]["model"].Scalar());
}

EvolveConfig read_evolve_config(const ConfigSource& source) {
  EvolveConfig c = evolve_config_schema().read(source);
  c.text = source.text();
  for (const auto& assignment : source.overrides()) c.text += "\n# --set " + assignment;
  if (!source.root()["merge"]) source.fail("merge", "must be set: the mergekit config the genome fills in");
  if (c.genome.parameters.empty()) source.fail("genome", "must name at least one parameter to search");
  if (c.fitness.data.empty()) source.fail("fitness.data", "must be set: the held-out JSONL of the fitness");
  std::error_code error;
  if (!fs::is_regular_file(c.fitness.data, error)) {
    source.fail("fitness.data", "'" + c.fitness.data.string() + "' does not exist");
  }
  if (c.fitness.metric != "loss" && c.fitness.generation_examples == 0) {
    source.fail("fitness.generation_examples", "must be > 0 for the metric " + c.fitness.metric);
  }
  if (c.search.population == 1) source.fail("search.population", "must be 0 (default) or >= 2");
  read_merge(source, c);
  const MergeGenome genome(c);
  c.search.mean = genome.initial_point();
  c.search.lower.assign(genome.size(), 0.0);
  c.search.upper.assign(genome.size(), 1.0);
  // The template is checked by the merge engine's parser, on the recipe of the initial genome.
  try {
    merge::parse_merge_config(genome.recipe_yaml(c.search.mean), "merge", source.base_dir_for("merge"));
  } catch (const Error& merge_error) {
    source.fail("merge", merge_error.what());
  }
  return c;
}

}  // namespace

search::CmaEsOptions evolve_search_defaults() {
  search::CmaEsOptions options;
  options.sigma = 0.25;
  options.max_evaluations = 200;
  options.max_restarts = 2;
  options.tol_fun = 1e-4;
  options.tol_x = 1e-4;
  return options;
}

EvolveConfig EvolveConfig::from_yaml_file(const std::filesystem::path& path,
                                          const std::vector<std::string>& overrides) {
  EvolveConfig config = read_evolve_config(ConfigSource::from_file(path, overrides));
  config.config_file = fs::absolute(path).lexically_normal();
  return config;
}

EvolveConfig EvolveConfig::from_yaml(const std::string& text, const std::string& label,
                                     const std::filesystem::path& base_dir, const std::vector<std::string>& overrides) {
  return read_evolve_config(ConfigSource(text, label, base_dir, overrides));
}

}  // namespace ladle::evolve
