#include "pipelines/dtm/dtm_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <numeric>
#include <set>

#include "callbacks/averaging_callbacks.h"
#include "lib/config/config_source.h"
#include "lib/config/device_value.h"
#include "lib/config/schema.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_method.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/util/error.h"
#include "trainer/callback_registry.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;

using config::above;
using config::at_least;
using config::in_closed;
using config::Choices;
using config::ConfigSource;
using config::CustomValue;
using config::Schema;
using config::YamlValue;

// A mapping as one line of YAML flow style, to be echoed into the merge engine's config.
std::string flow_yaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

// `train:`: a train YAML's path (read whole, its own file in messages), or the training config inline.
CustomValue<DtmTrainSource> train_source() {
  return {"a path to a train YAML, or the training config inline",
          [](const YamlValue& value) -> DtmTrainSource {
            if (value.node.IsMap()) return {std::make_shared<const ConfigSource>(value.source), value.key};
            if (!value.node.IsScalar()) value.expected("a train YAML's path or a mapping");
            const fs::path file = value.resolved(value.node.Scalar());
            std::error_code error;
            if (!fs::is_regular_file(file, error)) value.fail("'" + file.string() + "' does not exist");
            return {std::make_shared<const ConfigSource>(ConfigSource::from_file(file)), ""};
          },
          [](const DtmTrainSource& train) -> nlohmann::json {
            if (!train.source) return nullptr;
            return train.key.empty() ? nlohmann::json(train.source->label())
                                     : config::yaml_to_json(train.source->root()[train.key]);
          }};
}

// `train_overrides:`: dotted keys of the training config and their values, as `ladle train --set` takes them.
CustomValue<std::vector<std::string>> train_overrides() {
  return {"a mapping of dotted training-config keys to values",
          [](const YamlValue& value) {
            std::vector<std::string> overrides;
            if (value.node.IsNull()) return overrides;
            if (!value.node.IsMap()) value.expected("a mapping of dotted keys to values");
            for (const auto& item : value.node) {
              overrides.push_back(item.first.as<std::string>() + "=" + flow_yaml(item.second));
            }
            return overrides;
          },
          [](const std::vector<std::string>& overrides) {
            nlohmann::json object = nlohmann::json::object();
            for (const auto& assignment : overrides) {
              const auto equals = assignment.find('=');
              object[assignment.substr(0, equals)] = config::yaml_to_json(YAML::Load(assignment.substr(equals + 1)));
            }
            return object;
          }};
}

// A mapping of merge parameters, kept as YAML flow style for the merge engine's config.
CustomValue<std::string> merge_parameters() {
  return {"a mapping of merge parameters",
          [](const YamlValue& value) -> std::string {
            if (value.node.IsNull()) return "";
            if (!value.node.IsMap()) value.expected("a mapping of parameters");
            return flow_yaml(value.node);
          },
          [](const std::string& parameters) {
            return parameters.empty() ? nlohmann::json::object() : config::yaml_to_json(YAML::Load(parameters));
          }};
}

const Schema<clustering::EmbedderOptions>& embedder_schema() {
  using clustering::EmbedderOptions;
  using clustering::EmbedText;
  using clustering::Pooling;
  static const auto schema =
      Schema<EmbedderOptions>("")
          .choice("text", &EmbedderOptions::text,
                  Choices<EmbedText>{{clustering::embed_text_name(EmbedText::instruction), EmbedText::instruction},
                                     {clustering::embed_text_name(EmbedText::response), EmbedText::response},
                                     {clustering::embed_text_name(EmbedText::both), EmbedText::both}},
                  "which part of each record is embedded (the DTM authors embed the response)")
          .choice("pooling", &EmbedderOptions::pooling,
                  Choices<Pooling>{{clustering::pooling_name(Pooling::mean), Pooling::mean},
                                   {clustering::pooling_name(Pooling::last_token), Pooling::last_token}},
                  "how the token states become one vector")
          .field("layer", &EmbedderOptions::layer, at_least(-1000000),
                 "which hidden state: 0 the embedding output, i layer i's output, negative counts from the end (-1: "
                 "the last layer's output after the final norm)")
          .field("batch_size", &EmbedderOptions::batch_size, at_least(1), "sequences per forward pass")
          .field("max_length", &EmbedderOptions::max_length, at_least(2),
                 "tokens per sequence, bos included (a longer text keeps its beginning)");
  return schema;
}

const Schema<clustering::TfidfOptions>& tfidf_schema() {
  static const auto schema = Schema<clustering::TfidfOptions>("").field(
      "dimensions", &clustering::TfidfOptions::dimensions, at_least(1),
      "tfidf: the SVD dimensions kept (c-BTM's 100; fewer when the records' matrix has a lower rank)");
  return schema;
}

const Schema<DtmEmbedConfig>& embed_schema() {
  static const auto schema =
      Schema<DtmEmbedConfig>("The embedding of every training record, which k-means clusters.")
          .choice("embedder", &DtmEmbedConfig::embedder_kind,
                  Choices<DtmEmbedder>{{"hidden_states", DtmEmbedder::hidden_states}, {"tfidf", DtmEmbedder::tfidf}},
                  "hidden_states: the base model's pooled hidden states; tfidf: TF-IDF of the text reduced by "
                  "truncated SVD (c-BTM's embedder; the c-BTM ensemble routes prompts with the fitted one)")
          .keys_of(&DtmEmbedConfig::embedder, embedder_schema())
          .keys_of(&DtmEmbedConfig::tfidf, tfidf_schema())
          .field("bf16", &DtmEmbedConfig::bf16, "embed under bf16 autocast (hidden_states)");
  return schema;
}

// faiss's knobs (clustering/kmeans.h); K is DtmClusterConfig's.
const Schema<clustering::KMeansOptions>& kmeans_schema() {
  using clustering::KMeansOptions;
  static const auto schema =
      Schema<KMeansOptions>("")
          .field("iterations", &KMeansOptions::iterations, at_least(1), "Lloyd iterations per run (faiss's niter)")
          .field("nredo", &KMeansOptions::nredo, at_least(1),
                 "runs from different initial centroids; the lowest objective wins")
          .field("seed", &KMeansOptions::seed, at_least(0), "seed of the initial centroids (the random split's too)")
          .field("spherical", &KMeansOptions::spherical,
                 "unit-length centroids and inner-product assignment: clusters by cosine similarity")
          .field("max_points_per_centroid", &KMeansOptions::max_points_per_centroid, at_least(0),
                 "when positive, faiss trains on a sample of k times this many points (0: all)");
  return schema;
}

// `cluster.k`: one K, or a list of distinct Ks (a sweep); each a whole number >= 1.
CustomValue<std::vector<std::int64_t>> cluster_k() {
  return {"a whole number >= 1, or a list of them",
          [](const YamlValue& value) {
            if (!value.node.IsSequence()) {
              return std::vector<std::int64_t>{config::ValueType<std::int64_t>::read(value, at_least(1))};
            }
            const auto ks = config::ValueType<std::vector<std::int64_t>>::read(value, at_least(1));
            if (ks.empty()) value.fail("expected at least one K, e.g. [1, 2, 4, 8]");
            if (std::set<std::int64_t>(ks.begin(), ks.end()).size() != ks.size()) {
              value.fail("expected distinct Ks (a repeated K repeats the same runs)");
            }
            return ks;
          },
          [](const std::vector<std::int64_t>& ks) {
            return ks.size() == 1 ? nlohmann::json(ks.front()) : nlohmann::json(ks);
          }};
}

const Schema<DtmClusterConfig>& cluster_schema() {
  static const auto schema =
      Schema<DtmClusterConfig>("k-means over the embeddings (faiss; clustering/kmeans.h): one sub-model per cluster.")
          .custom("k", &DtmClusterConfig::k, cluster_k(),
                  "clusters, and sub-models (the paper's K); a list sweeps K (K = 1: vanilla's run and row)")
          .keys_of(&DtmClusterConfig::kmeans, kmeans_schema())
          .field("balanced", &DtmClusterConfig::balanced,
                 "equal-size clusters (sizes differ by at most one, as c-BTM's balanced k-means): faiss's centres, "
                 "each point then assigned greedily to the nearest one with room");
  return schema;
}

const Schema<DtmMergeMethod>& merge_method_schema() {
  static const auto schema =
      Schema<DtmMergeMethod>("")
          .field("merge_method", &DtmMergeMethod::merge_method, "any registered merge method (ladle merge)")
          .custom("parameters", &DtmMergeMethod::parameters, merge_parameters(), "mergekit's method-wide parameters")
          .custom("model_parameters", &DtmMergeMethod::model_parameters, merge_parameters(),
                  "every sub-model's parameters (linear: weight 1 unless given)")
          .field("dtype", &DtmMergeMethod::dtype, "working dtype (empty: the engine's float32)")
          .field("size_weighted", &DtmMergeMethod::size_weighted,
                 "each sub-model's weight is its cluster's share of the records, n_j / N (the DTM authors' "
                 "mix_ratio); model_parameters must then give no weight");
  return schema;
}

const Schema<DtmMergeConfig>& merge_schema() {
  static const auto schema =
      Schema<DtmMergeConfig>(
          "The merge of the sub-models (and of the soup's members), as mergekit keys; checked by the merge "
          "engine's own parser.")
          .keys_of(&DtmMergeConfig::method, merge_method_schema())
          .choice("weights", &DtmMergeConfig::weights,
                  Choices<std::string>{{"final", "final"}, {"ema", "ema"}, {"swa", "swa"}, {"lawa", "lawa"}},
                  "which weights of each run are merged: final/, or the average the training config keeps "
                  "(its averaging: must turn it on, with save_model true); merge_variants take the same");
  return schema;
}

const Schema<DtmMergeVariant>& merge_variant_schema() {
  static const auto schema = Schema<DtmMergeVariant>("")
                                 .field("name", &DtmMergeVariant::name, "its row (dtm-kmeans/NAME) and folders")
                                 .required()
                                 .keys_of(&DtmMergeVariant::method, merge_method_schema());
  return schema;
}

// `merge_variants:`: a list of named merges, each read by merge_variant_schema(), names distinct and usable as
// folder names.
CustomValue<std::vector<DtmMergeVariant>> merge_variants() {
  return {"a list of {name, merge_method, parameters, model_parameters, dtype, size_weighted}",
          [](const YamlValue& value) {
            std::vector<DtmMergeVariant> variants;
            if (value.node.IsNull()) return variants;
            if (!value.node.IsSequence()) value.expected("a list of named merges");
            std::set<std::string> names;
            for (std::size_t i = 0; i < value.node.size(); ++i) {
              const YamlValue item = value.item(i);
              DtmMergeVariant variant;
              merge_variant_schema().read(item, variant);
              const bool plain = !variant.name.empty() &&
                                 std::all_of(variant.name.begin(), variant.name.end(), [](unsigned char c) {
                                   return std::isalnum(c) || c == '_' || c == '-';
                                 });
              // "-seed<s>" is how a replicate's names end (dtm_layout.h): a variant named so would take one's place.
              const auto seed = variant.name.rfind("-seed");
              if (!plain || (seed != std::string::npos && seed + 5 < variant.name.size() &&
                             std::all_of(variant.name.begin() + static_cast<std::ptrdiff_t>(seed + 5),
                                         variant.name.end(), [](unsigned char c) { return std::isdigit(c); }))) {
                item.fail("name: expected letters, digits, '_' and '-' (not ending in -seed<digits>), got '" +
                          variant.name + "'");
              }
              if (!names.insert(variant.name).second) item.fail("name: '" + variant.name + "' is given twice");
              variants.push_back(std::move(variant));
            }
            return variants;
          },
          [](const std::vector<DtmMergeVariant>& variants) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& variant : variants) list.push_back(merge_variant_schema().to_json(variant));
            return list;
          }};
}

const Schema<trainer::HeldOutEvaluationOptions>& heldout_options_schema() {
  using trainer::HeldOutEvaluationOptions;
  static const auto schema =
      Schema<HeldOutEvaluationOptions>("")
          .field("max_examples", &HeldOutEvaluationOptions::max_examples, "a seeded subset of each set (0: all)")
          .field("generation_examples", &HeldOutEvaluationOptions::generation_examples,
                 "examples whose reply is generated for exact match (0: loss only)")
          .field("batch_size", &HeldOutEvaluationOptions::batch_size, at_least(1), "examples per forward")
          .field("bf16", &HeldOutEvaluationOptions::bf16, "bf16 autocast for the forward passes")
          .field("seed", &HeldOutEvaluationOptions::seed, "picks the subsets");
  return schema;
}

const Schema<DtmEvaluationConfig>& evaluation_schema() {
  static const auto schema =
      Schema<DtmEvaluationConfig>("The held-out evaluation of every model (at least one set).")
          .field("valid", &DtmEvaluationConfig::valid, "held-out instruction JSONL, reported as valid")
          .field("test", &DtmEvaluationConfig::test, "held-out instruction JSONL, reported as test")
          .field("shifted", &DtmEvaluationConfig::shifted, "a shifted held-out set, reported as shifted")
          .field("knowledge", &DtmEvaluationConfig::knowledge,
                 "plain text of the base model's pretraining distribution (e.g. data/corpus/valid.txt): every "
                 "model's loss on it against the base's is the knowledge it lost")
          .keys_of(&DtmEvaluationConfig::options, heldout_options_schema());
  return schema;
}

const Schema<DtmBaselineConfig>& baselines_schema() {
  static const auto schema =
      Schema<DtmBaselineConfig>("The paper's comparisons, each from the same base, data and compute.")
          .field("vanilla", &DtmBaselineConfig::vanilla, "one run on all the records for total_steps steps")
          .field("random_split", &DtmBaselineConfig::random_split,
                 "DTM over a random split with k-means' cluster sizes")
          .field("uniform_soup", &DtmBaselineConfig::uniform_soup,
                 "the uniform soup of k all-records runs with different seeds, total_steps together")
          .field("ensemble", &DtmBaselineConfig::ensemble,
                 "the c-BTM ensemble of the k-means sub-models: their next-token probabilities mixed per example by "
                 "the cluster posterior of its prompt (k forward passes per token)")
          .field("interpolation", &DtmBaselineConfig::interpolation, in_closed(0, 1),
                 "WiSE-FT of vanilla at each alpha: base + alpha * (vanilla - base), the line from the base to "
                 "vanilla that a merge's alignment tax is judged against (needs vanilla)");
  return schema;
}

const Schema<clustering::ClusterPosteriorOptions>& ensemble_schema() {
  using clustering::ClusterPosteriorOptions;
  static const auto schema =
      Schema<ClusterPosteriorOptions>(
          "The c-BTM ensemble's weights (Gururangan et al. 2023, section 2.3): top_k of softmax(-d^2 / temperature) "
          "over the squared distances of a prompt's embedding to the cluster centres, renormalised.")
          .field("temperature", &ClusterPosteriorOptions::temperature, above(0),
                 "T (c-BTM's evaluation scripts: 0.1)")
          .field("top_k", &ClusterPosteriorOptions::top_k, at_least(0), "sub-models mixed per example (0: all k)");
  return schema;
}

void require_sets_exist(const ConfigSource& source, const DtmEvaluationConfig& evaluation) {
  for (const auto& set : evaluation.scored_sets()) {
    std::error_code error;
    if (!fs::is_regular_file(set.path, error)) {
      source.fail("evaluation." + set.label, "'" + set.path.string() + "' does not exist");
    }
  }
}

// Every merge is checked by the merge engine's own parser, on the config it will be given.
void check_merge(const ConfigSource& source, const std::string& key, const DtmMergeMethod& method) {
  try {
    merge::find_merge_method(method.merge_method);
    if (method.size_weighted && !method.model_parameters.empty() && YAML::Load(method.model_parameters)["weight"]) {
      throw Error("size_weighted sets every sub-model's weight to its cluster's share: remove model_parameters.weight");
    }
    merge::parse_merge_config(method.yaml({"sub-model-0", "sub-model-1"}, {1, 1}, "base"), key,
                              source.base_dir_for(key));
  } catch (const Error& error) {
    source.fail(key, error.what());
  }
}

// Averaged weights to merge must be written by every run: the training config keeps that average and saves it.
void check_merged_weights(const ConfigSource& source, const DtmConfig& c,
                          const std::vector<std::shared_ptr<trainer::Callback>>& train_callbacks) {
  if (c.merge.weights == "final") return;
  for (const auto& callback : train_callbacks) {
    const auto* averaging = dynamic_cast<const callbacks::AveragingCallback*>(callback.get());
    if (callback->name() == c.merge.weights && averaging != nullptr && averaging->writes_model(c.merge.weights)) {
      return;
    }
  }
  source.fail("merge.weights", "the training config (" + c.train.source->label() + ") writes no " + c.merge.weights +
                                   "/ model: turn it on there, e.g. averaging: {" + c.merge.weights +
                                   ": {...}}, with save_model true");
}

DtmConfig read_dtm_config(const ConfigSource& source) {
  DtmConfig c = dtm_config_schema().read(source);
  c.overrides = source.overrides();
  if (!c.train.source) source.fail("train", "must be set: a train YAML's path, or the training config inline");
  if (c.evaluation.sets().empty()) {
    source.fail("evaluation", "must name at least one held-out set (valid, test or shifted)");
  }
  require_sets_exist(source, c.evaluation);
  if (c.seeds.empty()) source.fail("seeds", "expected at least one seed, e.g. [0, 1, 2]");
  if (std::set<std::uint64_t>(c.seeds.begin(), c.seeds.end()).size() != c.seeds.size()) {
    source.fail("seeds", "expected distinct seeds (a repeated seed repeats the same runs)");
  }
  const auto& ks = c.cluster.k;
  if (c.cluster.sweep() && std::find(ks.begin(), ks.end(), 1) != ks.end() && !c.baselines.vanilla) {
    source.fail("cluster.k", "K = 1 of a sweep is vanilla fine-tuning: turn on baselines.vanilla, or leave 1 out");
  }
  if (!c.baselines.interpolation.empty() && !c.baselines.vanilla) {
    source.fail("baselines.interpolation", "interpolates between the base and vanilla: turn on baselines.vanilla");
  }
  check_merge(source, "merge", c.merge.method);
  for (std::size_t i = 0; i < c.merge_variants.size(); ++i) {
    check_merge(source, "merge_variants[" + std::to_string(i) + "]", c.merge_variants[i].method);
  }
  // The train config and the callbacks it turns on are made now so that a bad key there stops the pipeline
  // before any work.
  std::vector<std::shared_ptr<trainer::Callback>> train_callbacks;
  try {
    train_callbacks = trainer::make_config_callbacks(c.train_config());
  } catch (const Error& error) {
    throw Error(error.what() + std::string(" (the training config of ") + source.label() + ")");
  }
  check_merged_weights(source, c, train_callbacks);
  return c;
}

}  // namespace

const config::Schema<DtmConfig>& dtm_config_schema() {
  static const auto schema =
      Schema<DtmConfig>("The experiment as a whole.")
          .field("output_dir", &DtmConfig::output_dir,
                 "every stage's output (embed/, cluster/, runs/, merge/, evaluate/, report/)")
          .custom("train", &DtmConfig::train, train_source(),
                  "the base training config of every run (required): a train YAML's path, or its keys inline (`ladle "
                  "train --help-config`); its model.path is the base model")
          .custom("train_overrides", &DtmConfig::train_overrides, train_overrides(),
                  "applied to the training config as `ladle train --set` ({evaluation.every_steps: 20})")
          .field("total_steps", &DtmConfig::total_steps, at_least(0),
                 "optimizer steps of the k sub-models together (0: the training config's max_steps)")
          .field("records", &DtmConfig::records, "a seeded random subset of the training records (0: all)")
          .custom("device", &DtmConfig::device, config::device_value(),
                  "where every stage runs (embedding, the training runs, merges, evaluation; it is the training "
                  "config's device, which it overrides): cpu, cuda, cuda:N or auto")
          .field("seeds", &DtmConfig::seeds, in_closed(0, 1000000),
                 "replicates: every method runs once per seed (0: the experiment as written; s shifts k-means' seed "
                 "by s and the runs' by s*k), and the report gives means and 95% intervals over them")
          .section("embed", &DtmConfig::embed, embed_schema())
          .section("cluster", &DtmConfig::cluster, cluster_schema())
          .section("merge", &DtmConfig::merge, merge_schema())
          .custom("merge_variants", &DtmConfig::merge_variants, merge_variants(),
                  "more merges of the same sub-models, each reported beside DTM as dtm-kmeans/NAME (and "
                  "dtm-random/NAME): a merge and an evaluation each, no training")
          .section("evaluation", &DtmConfig::evaluation, evaluation_schema())
          .section("baselines", &DtmConfig::baselines, baselines_schema())
          .section("ensemble", &DtmConfig::ensemble, ensemble_schema());
  return schema;
}

std::vector<std::int64_t> DtmClusterConfig::trained_k() const {
  std::vector<std::int64_t> trained;
  for (const std::int64_t value : k) {
    if (!sweep() || value != 1) trained.push_back(value);
  }
  return trained;
}

std::int64_t DtmClusterConfig::max_k() const { return *std::max_element(k.begin(), k.end()); }

clustering::KMeansOptions DtmClusterConfig::options(std::int64_t k_value) const {
  clustering::KMeansOptions options = kmeans;
  options.k = k_value;
  return options;
}

trainer::HeldOutEvaluationOptions DtmEvaluationConfig::default_options() {
  trainer::HeldOutEvaluationOptions options;
  options.generation_examples = 64;
  options.bf16 = true;
  return options;
}

std::vector<trainer::HeldOutSet> DtmEvaluationConfig::sets() const {
  std::vector<trainer::HeldOutSet> given;
  for (const auto& [label, path] :
       {std::pair<const char*, const fs::path&>{"valid", valid}, {"test", test}, {"shifted", shifted}}) {
    if (!path.empty()) given.push_back({label, path});
  }
  return given;
}

std::vector<trainer::HeldOutSet> DtmEvaluationConfig::scored_sets(std::int64_t context_length) const {
  std::vector<trainer::HeldOutSet> scored = sets();
  // A block of block_size + 1 tokens fills the context (token_block_dataset.h).
  if (!knowledge.empty()) {
    scored.push_back({"knowledge", knowledge, static_cast<std::size_t>(std::max<std::int64_t>(1, context_length - 1))});
  }
  return scored;
}

DtmConfig DtmConfig::from_yaml_file(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  DtmConfig config = read_dtm_config(ConfigSource::from_file(path, overrides));
  config.config_file = fs::absolute(path).lexically_normal();
  return config;
}

DtmConfig DtmConfig::from_yaml(const std::string& text, const std::string& label, const std::filesystem::path& base_dir,
                               const std::vector<std::string>& overrides) {
  return read_dtm_config(ConfigSource(text, label, base_dir, overrides));
}

trainer::TrainConfig DtmConfig::train_config(const std::vector<std::string>& run_overrides) const {
  // The overrides name training-config keys; in a dtm.yml they sit under `train`.
  std::vector<std::string> overrides = {"device=" + device};
  overrides.insert(overrides.end(), train_overrides.begin(), train_overrides.end());
  overrides.insert(overrides.end(), run_overrides.begin(), run_overrides.end());
  if (!train.key.empty()) {
    for (auto& assignment : overrides) assignment = train.key + "." + assignment;
  }
  const ConfigSource source = train.source->with_overrides(overrides);
  const YAML::Node& root = source.root();
  const trainer::TrainConfig config =
      trainer::TrainConfig::from_yaml_value({train.key.empty() ? root : root[train.key], train.key, source});
  const auto key = [&](const std::string& name) { return train.key.empty() ? name : train.key + "." + name; };
  if (config.model.path.empty()) {
    source.fail(key("model.path"), "DTM fine-tunes one base model: set model.path to its Hugging Face folder");
  }
  if (config.data.format != trainer::DataFormat::instructions) {
    source.fail(key("data.format"), "DTM clusters instruction records; expected instructions");
  }
  if (config.data.max_train_examples != 0 || !config.data.tasks.empty()) {
    source.fail(key("data.max_train_examples"),
                "the DTM pipeline picks the records itself (dtm.yml's `records`); leave data.max_train_examples and "
                "data.tasks unset");
  }
  return config;
}

std::string DtmMergeMethod::yaml(const std::vector<std::filesystem::path>& models,
                                 const std::vector<std::int64_t>& sizes, const std::filesystem::path& base) const {
  YAML::Node shared = model_parameters.empty() ? YAML::Node(YAML::NodeType::Map) : YAML::Load(model_parameters);
  // mergekit's linear merge needs every model's weight; equal weights give the paper's plain average.
  if (merge_method == "linear" && !shared["weight"]) shared["weight"] = 1.0;
  const double records = static_cast<double>(std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0}));
  YAML::Node config;
  config["merge_method"] = merge_method;
  if (merge::find_merge_method(merge_method).requires_base()) config["base_model"] = base.string();
  for (std::size_t j = 0; j < models.size(); ++j) {
    YAML::Node entry;
    entry["model"] = models[j].string();
    YAML::Node model = YAML::Clone(shared);  // no YAML aliases
    // The DTM authors' mix_ratio (their merge script's weights): n_j / N over the merged sub-models' records.
    if (size_weighted) model["weight"] = static_cast<double>(sizes.at(j)) / records;
    if (model.size() > 0) entry["parameters"] = model;
    config["models"].push_back(entry);
  }
  if (!parameters.empty()) config["parameters"] = YAML::Load(parameters);
  if (!dtype.empty()) config["dtype"] = dtype;
  // The first line is part of the merge's fingerprint (dtm_fingerprints.h): unchanged, so finished merges stay.
  return "# Written by ladle dtm: the merge of the sub-models (dtm.yml's merge section).\n" + YAML::Dump(config) +
         "\n";
}

}  // namespace ladle::dtm
