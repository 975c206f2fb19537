#include "lib/merge/merge_config.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cmath>
#include <functional>
#include <set>

#include "lib/config/config_source.h"
#include "lib/config/device_value.h"
#include "lib/config/schema.h"
#include "lib/merge/merge_method_registry.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

using config::ConfigSource;
using config::CustomValue;
using config::Schema;
using config::YamlValue;
using config::yaml_line;
using config::yaml_shown;

constexpr std::int64_t kMaxLayerIndex = 1'000'000;

// The line of a value: its key's line, else its own (an item of a list has no key).
int line_of(const YamlValue& value) { return value.line > 0 ? value.line : yaml_line(value.node); }

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

// A parameter's number: booleans are 1 and 0, as mergekit's ScalarOrGradient takes them.
double read_number(const YamlValue& value) {
  if (const auto flag = as_boolean(value.node)) return *flag ? 1.0 : 0.0;
  if (const auto number = as_number(value.node)) return *number;
  value.fail("expected a finite number or a boolean, got " + yaml_shown(value.node));
}

// A non-empty text value (a model path, a filter).
std::string read_text(const YamlValue& value) {
  if (!value.node.IsScalar() || value.node.Scalar().empty()) {
    value.fail("expected a text value, got " + yaml_shown(value.node));
  }
  if (value.node.Scalar().find('\0') != std::string::npos) value.fail("the text contains a NUL character");
  return value.node.Scalar();
}

// A list of 1 to kMaxListEntries entries.
void require_list(const YamlValue& value) {
  if (!value.node.IsSequence()) value.fail("expected a list, got " + yaml_shown(value.node));
  if (value.node.size() == 0) value.fail("the list is empty");
  if (value.node.size() > kMaxListEntries) {
    value.fail("the list has " + std::to_string(value.node.size()) + " entries; at most " +
               std::to_string(kMaxListEntries) + " are accepted");
  }
}

// "./a/" and "./a" name the same model.
ModelReference model_reference(const std::string& name, const YamlValue& value) {
  fs::path path = value.resolved(name);
  if (!path.has_filename() && path.has_parent_path()) path = path.parent_path();
  return {name, path, line_of(value)};
}

ModelReference read_model(const YamlValue& value) {
  if (value.node.IsMap()) {
    value.fail("expected a model path; model references with LoRA or revision fields are not supported");
  }
  return model_reference(read_text(value), value);
}

CustomValue<ModelReference> model_value() {
  return {"a model path", read_model, [](const ModelReference& model) {
            return model.name.empty() ? nlohmann::json(nullptr) : nlohmann::json(model.name);
          }};
}

// A model path that may be left out (null: none).
CustomValue<std::optional<ModelReference>> optional_model_value() {
  return {"a model path",
          [](const YamlValue& value) -> std::optional<ModelReference> {
            if (value.node.IsNull()) return std::nullopt;
            return read_model(value);
          },
          [](const std::optional<ModelReference>& model) {
            return model ? nlohmann::json(model->name) : nlohmann::json(nullptr);
          }};
}

ScalarOrGradient read_scalar_or_gradient(const YamlValue& value) {
  ScalarOrGradient result;
  if (!value.node.IsSequence()) {
    result.values.push_back(read_number(value));
    return result;
  }
  require_list(value);
  bool all_booleans = true;
  for (std::size_t i = 0; i < value.node.size(); ++i) {
    const YamlValue item = value.item(i);
    if (!item.node.IsScalar()) item.fail("a gradient lists numbers, got " + yaml_shown(item.node));
    all_booleans = all_booleans && as_boolean(item.node).has_value();
    result.values.push_back(read_number(item));
  }
  result.interpolate = !all_booleans;
  return result;
}

nlohmann::json scalar_or_gradient_json(const ScalarOrGradient& value) {
  if (value.values.size() == 1) return value.values.front();
  return value.values;
}

const Schema<FilteredValue>& filtered_value_schema() {
  static const auto schema =
      Schema<FilteredValue>("One entry of a filtered parameter value.")
          .custom("filter", &FilteredValue::filter,
                  CustomValue<std::optional<std::string>>{
                      "a string", [](const YamlValue& value) { return std::optional<std::string>(read_text(value)); },
                      [](const std::optional<std::string>& filter) {
                        return filter ? nlohmann::json(*filter) : nlohmann::json(nullptr);
                      }},
                  "applies to tensors whose name contains it (none or * : every tensor)")
          .custom("value", &FilteredValue::value,
                  CustomValue<ScalarOrGradient>{"a number, a boolean, or a list of them (a gradient)",
                                                read_scalar_or_gradient, scalar_or_gradient_json},
                  "the value, or a gradient over the slice's layers (required)");
  return schema;
}

ParameterSetting read_setting(const YamlValue& value) {
  ParameterSetting setting;
  setting.line = line_of(value);
  const bool filtered = value.node.IsSequence() && value.node.size() > 0 && value.node[0].IsMap();
  if (!filtered) {
    if (value.node.IsMap()) {
      value.fail("a filtered value is a list of {filter, value} entries; put this entry in a list");
    }
    setting.entries.push_back({std::nullopt, read_scalar_or_gradient(value), setting.line});
    return setting;
  }
  require_list(value);
  for (std::size_t i = 0; i < value.node.size(); ++i) {
    const YamlValue item = value.item(i);
    if (!item.node.IsMap()) {
      item.fail("every entry of a filtered value is a {filter, value} mapping, got " + yaml_shown(item.node));
    }
    FilteredValue entry;
    entry.line = line_of(item);
    filtered_value_schema().read(item, entry);
    if (!item.node["value"]) item.fail("the entry has no 'value'");
    setting.entries.push_back(std::move(entry));
  }
  return setting;
}

nlohmann::json setting_json(const ParameterSetting& setting) {
  if (setting.entries.size() == 1 && !setting.entries.front().filter) {
    return scalar_or_gradient_json(setting.entries.front().value);
  }
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& entry : setting.entries) entries.push_back(filtered_value_schema().to_json(entry));
  return entries;
}

// `parameters:` maps parameter names to values; which names a method takes is the planner's check (the method is
// known there). Empty (`parameters:` with nothing under it, as in mergekit's own examples) is allowed.
CustomValue<ParameterSettings> parameters_value() {
  return {"a mapping of parameter names to values",
          [](const YamlValue& value) {
            ParameterSettings settings;
            if (value.node.IsNull()) return settings;
            if (!value.node.IsMap()) value.fail("expected a mapping of parameter names to values, got " +
                                                yaml_shown(value.node));
            for (const auto& item : value.node) {
              const YamlValue member = value.member(item);
              if (!settings.emplace(item.first.as<std::string>(), read_setting(member)).second) {
                member.fail("given twice");
              }
            }
            return settings;
          },
          [](const ParameterSettings& settings) {
            nlohmann::json object = nlohmann::json::object();
            for (const auto& [name, setting] : settings) object[name] = setting_json(setting);
            return object;
          }};
}

// `layer_range: [first, end)`.
CustomValue<std::optional<std::pair<std::int64_t, std::int64_t>>> layer_range_value() {
  using Range = std::optional<std::pair<std::int64_t, std::int64_t>>;
  return {"a list of 2 whole numbers, [first, end)",
          [](const YamlValue& value) -> Range {
            const auto range =
                config::ValueType<std::array<std::int64_t, 2>>::read(value, config::in_closed(0, kMaxLayerIndex));
            if (range[1] <= range[0]) {
              value.fail("the range [" + std::to_string(range[0]) + ", " + std::to_string(range[1]) +
                         ") is empty; the end is exclusive, so [0, 4] takes layers 0 to 3");
            }
            return std::make_pair(range[0], range[1]);
          },
          [](const Range& range) {
            return range ? nlohmann::json::array({range->first, range->second}) : nlohmann::json(nullptr);
          }};
}

// The keys of a model entry, common to `models` and `slices[].sources`.
Schema<InputSource> input_source_schema(const char* help) {
  return Schema<InputSource>(help)
      .custom("model", &InputSource::model, model_value(),
              "a Hugging Face model folder or a .safetensors file, relative to the config's folder (required)")
      .custom("parameters", &InputSource::parameters, parameters_value(),
              "this model's per-model parameters (weight, density, ...)")
      .custom("fisher", &InputSource::fisher, optional_model_value(),
              "merge_method fisher: the model's diagonal Fisher information (a .safetensors file, or a folder "
              "holding one); ladle's key, not mergekit's");
}

const Schema<InputSource>& model_entry_schema() {
  static const auto schema = input_source_schema("One entry of `models`: a whole model and its per-model parameters.");
  return schema;
}

const Schema<InputSource>& slice_source_schema() {
  static const auto schema =
      input_source_schema("One source of a slice: a layer range of a model and its per-model parameters.")
          .custom("layer_range", &InputSource::layer_range, layer_range_value(),
                  "the layers taken, [first, end) with the end excluded (required)");
  return schema;
}

// A list of mappings, each read by `schema` into an entry that knows its key path and line; `finish` checks what
// an entry requires.
template <class Entry>
CustomValue<std::vector<Entry>> list_value(const Schema<Entry>& schema, const std::string& type,
                                           std::function<void(const YamlValue&, const Entry&)> finish) {
  const Schema<Entry>* entry_schema = &schema;  // a static schema, which outlives the reader
  return {type,
          [entry_schema, finish](const YamlValue& value) {
            require_list(value);
            std::vector<Entry> entries;
            for (std::size_t i = 0; i < value.node.size(); ++i) {
              const YamlValue item = value.item(i);
              if (!item.node.IsMap()) item.fail("expected a mapping of keys, got " + yaml_shown(item.node));
              Entry entry;
              entry.key_path = item.key;
              entry.line = line_of(item);
              entry_schema->read(item, entry);
              finish(item, entry);
              entries.push_back(std::move(entry));
            }
            return entries;
          },
          [entry_schema](const std::vector<Entry>& entries) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& entry : entries) list.push_back(entry_schema->to_json(entry));
            return list;
          }};
}

void require_model(const YamlValue& item, const InputSource&) {
  if (!item.node["model"]) item.fail("missing 'model'");
}

const Schema<OutputSlice>& slice_schema() {
  static const auto schema =
      Schema<OutputSlice>("One entry of `slices`: output layers built from a layer range of each source.")
          .custom("sources", &OutputSlice::sources,
                  list_value<InputSource>(slice_source_schema(), "a list of {model, layer_range, parameters}",
                                          [](const YamlValue& item, const InputSource& source) {
                                            require_model(item, source);
                                            if (!source.layer_range) {
                                              item.fail("missing 'layer_range' (model " + source.model.name + ")");
                                            }
                                          }),
                  "the models and layer ranges merged into these output layers (required)")
          .custom("parameters", &OutputSlice::parameters, parameters_value(),
                  "parameters for this slice: method-wide ones, and defaults for its sources")
          .custom("base_model", &OutputSlice::base_model, optional_model_value(),
                  "the base model of this slice, instead of the top-level one");
  return schema;
}

// A model named where a tokenizer setting takes one: `model:PATH` or PATH, as mergekit's ModelReference parses it.
ModelReference read_prefixed_model(const YamlValue& value) {
  const std::string text = read_text(value);
  const std::string prefix = "model:";
  const bool prefixed = text.compare(0, prefix.size(), prefix) == 0 && text.size() > prefix.size();
  return model_reference(prefixed ? text.substr(prefix.size()) : text, value);
}

// tokenizer.source (and tokenizer_source): `base`, `union`, or a model.
TokenizerSource read_tokenizer_source(const YamlValue& value) {
  if (value.node.IsMap() || value.node.IsSequence()) {
    value.fail("expected base, union or model:PATH, got " + yaml_shown(value.node));
  }
  const std::string text = read_text(value);
  TokenizerSource source;
  source.line = line_of(value);
  if (text == "base") {
    source.kind = TokenizerSource::Kind::base;
  } else if (text == "union") {
    source.kind = TokenizerSource::Kind::union_of_models;
  } else {
    source.kind = TokenizerSource::Kind::model;
    source.model = read_prefixed_model(value);
  }
  return source;
}

nlohmann::json tokenizer_source_json(const TokenizerSource& source) {
  switch (source.kind) {
    case TokenizerSource::Kind::base:
      return "base";
    case TokenizerSource::Kind::union_of_models:
      return "union";
    default:
      return "model:" + source.model->name;
  }
}

// `tokenizer_source: X`: the older key, read as `tokenizer: {source: X}`.
CustomValue<std::optional<TokenizerSettings>> tokenizer_source_value() {
  return {"base, union or model:PATH",
          [](const YamlValue& value) -> std::optional<TokenizerSettings> {
            if (value.node.IsNull()) return std::nullopt;
            TokenizerSettings settings;
            settings.source = read_tokenizer_source(value);
            settings.key = "tokenizer_source";
            settings.line = settings.source.line;
            return settings;
          },
          [](const std::optional<TokenizerSettings>& settings) {
            return settings ? tokenizer_source_json(settings->source) : nlohmann::json(nullptr);
          }};
}

// {kind: model_token, model: PATH, token: T | token_id: N} (mergekit's ModelTokenEmbedding).
const Schema<TokenRowSource>& model_token_schema() {
  static const auto schema =
      Schema<TokenRowSource>("A token's row taken from another token of a model (mergekit's ModelTokenEmbedding).")
          .custom("kind", &TokenRowSource::kind,
                  CustomValue<TokenRowSource::Kind>{"model_token or zero",
                                                    [](const YamlValue& value) {
                                                      const std::string kind = read_text(value);
                                                      if (kind == "zero") return TokenRowSource::Kind::zero;
                                                      if (kind == "model_token") return TokenRowSource::Kind::model_token;
                                                      value.fail("expected model_token or zero, got " +
                                                                 yaml_shown(value.node));
                                                    },
                                                    [](const TokenRowSource::Kind& kind) {
                                                      return nlohmann::json(kind == TokenRowSource::Kind::zero
                                                                                ? "zero"
                                                                                : "model_token");
                                                    }},
                  "zero (a row of zeros) or model_token (required)")
          .custom("model", &TokenRowSource::model, optional_model_value(),
                  "model_token: the model whose row is taken (a path as in models)")
          .custom("token", &TokenRowSource::token,
                  CustomValue<std::optional<std::string>>{
                      "a token", [](const YamlValue& value) { return std::optional<std::string>(read_text(value)); },
                      [](const std::optional<std::string>& token) {
                        return token ? nlohmann::json(*token) : nlohmann::json(nullptr);
                      }},
                  "model_token: the model's token whose row is taken (or token_id)")
          .field("token_id", &TokenRowSource::token_id, config::at_least(0),
                 "model_token: the id in the model whose row is taken (or token)");
  return schema;
}

TokenRowSource read_token_row_source(const YamlValue& value) {
  TokenRowSource source;
  source.line = line_of(value);
  if (!value.node.IsMap()) {
    source.kind = TokenRowSource::Kind::model;
    source.model = read_prefixed_model(value);
    return source;
  }
  if (!value.node["kind"]) value.fail("expected a mapping with kind: zero or kind: model_token, got no 'kind'");
  model_token_schema().read(value, source);
  if (source.kind == TokenRowSource::Kind::zero) {
    for (const char* key : {"model", "token", "token_id"}) {
      if (value.node[key]) value.fail("kind zero takes no '" + std::string(key) + "'");
    }
    return source;
  }
  if (!source.model) value.fail("kind model_token needs 'model'");
  if (source.token.has_value() == source.token_id.has_value()) {
    value.fail("kind model_token needs exactly one of 'token' and 'token_id'");
  }
  return source;
}

nlohmann::json token_row_source_json(const std::optional<TokenRowSource>& source) {
  if (!source) return nullptr;
  if (source->kind == TokenRowSource::Kind::model) return "model:" + source->model->name;
  return model_token_schema().to_json(*source);
}

const Schema<TokenEmbedding>& token_embedding_schema() {
  static const auto schema =
      Schema<TokenEmbedding>("One token's embedding rows (mergekit's TokenEmbeddingConfig); the key is the token.")
          .custom("source", &TokenEmbedding::source,
                  CustomValue<std::optional<TokenRowSource>>{
                      "model:PATH, {kind: zero} or {kind: model_token, model, token | token_id}",
                      [](const YamlValue& value) { return std::optional<TokenRowSource>(read_token_row_source(value)); },
                      token_row_source_json},
                  "where the token's row comes from, for models that lack the token (required)")
          .field("force", &TokenEmbedding::force,
                 "use the source's row for every model, also those that have the token");
  return schema;
}

CustomValue<std::vector<TokenEmbedding>> token_embeddings_value() {
  return {"a mapping of tokens to {source, force}",
          [](const YamlValue& value) {
            std::vector<TokenEmbedding> tokens;
            if (value.node.IsNull()) return tokens;
            if (!value.node.IsMap()) value.fail("expected a mapping of tokens to {source, force}, got " +
                                                yaml_shown(value.node));
            if (value.node.size() > kMaxListEntries) {
              value.fail("has " + std::to_string(value.node.size()) + " tokens; at most " +
                         std::to_string(kMaxListEntries) + " are accepted");
            }
            for (const auto& item : value.node) {
              const YamlValue member = value.member(item);
              TokenEmbedding token;
              token.token = read_text(YamlValue{item.first, member.key, member.source, member.line});
              token.key = member.key;
              token.line = line_of(member);
              for (const auto& known : tokens) {
                if (known.token == token.token) member.fail("the token is given twice");
              }
              if (!member.node.IsMap()) {
                member.fail("expected a mapping {source, force}, got " + yaml_shown(member.node));
              }
              token_embedding_schema().read(member, token);
              if (!token.source) member.fail("expected a 'source' (model:PATH, {kind: zero} or {kind: model_token, ...})");
              tokens.push_back(std::move(token));
            }
            return tokens;
          },
          [](const std::vector<TokenEmbedding>& tokens) {
            nlohmann::json object = nlohmann::json::object();
            for (const auto& token : tokens) object[token.token] = token_embedding_schema().to_json(token);
            return object;
          }};
}

const Schema<TokenizerSettings>& tokenizer_schema() {
  static const auto schema =
      Schema<TokenizerSettings>("The output vocabulary (mergekit's TokenizerConfig): embedding and LM-head rows are "
                                "remapped to it token by token.")
          .custom("source", &TokenizerSettings::source,
                  CustomValue<TokenizerSource>{"base, union or model:PATH", read_tokenizer_source,
                                               tokenizer_source_json},
                  "base (the base model's tokenizer), union (every model's tokens) or model:PATH (default: union)")
          .custom("tokens", &TokenizerSettings::tokens, token_embeddings_value(),
                  "per-token rows: TOKEN: {source: model:PATH | {kind: zero} | {kind: model_token, model, token | "
                  "token_id}, force: false}")
          .field("pad_to_multiple_of", &TokenizerSettings::pad_to_multiple_of, config::in_closed(1, 1 << 20),
                 "round the output's rows up to a multiple of this (the extra rows: the mean of the model's rows)");
  return schema;
}

CustomValue<std::optional<TokenizerSettings>> tokenizer_section_value() {
  return {"a mapping {source, tokens, pad_to_multiple_of}",
          [](const YamlValue& value) -> std::optional<TokenizerSettings> {
            if (value.node.IsNull()) return std::nullopt;
            if (!value.node.IsMap()) {
              value.fail("expected a mapping {source, tokens, pad_to_multiple_of}, got " + yaml_shown(value.node));
            }
            TokenizerSettings settings;
            settings.line = line_of(value);
            settings.source.line = settings.line;
            tokenizer_schema().read(value, settings);
            return settings;
          },
          [](const std::optional<TokenizerSettings>& settings) {
            return settings ? tokenizer_schema().to_json(*settings) : nlohmann::json(nullptr);
          }};
}

CustomValue<std::optional<c10::ScalarType>> dtype_value() {
  return {"float32, float16, bfloat16 or float64",
          [](const YamlValue& value) -> std::optional<c10::ScalarType> {
            const std::string name = read_text(value);
            try {
              return parse_merge_dtype(name);
            } catch (const Error& e) {
              value.fail(e.what());
            }
          },
          [](const std::optional<c10::ScalarType>& dtype) {
            return dtype ? nlohmann::json(merge_dtype_name(*dtype)) : nlohmann::json(nullptr);
          }};
}

config::Choices<std::string> method_choices() {
  config::Choices<std::string> choices;
  for (const auto& name : merge_method_names()) choices.emplace_back(name, name);
  return choices;
}

const Schema<MergeConfig>& merge_config_schema() {
  static const auto schema =
      Schema<MergeConfig>("A mergekit merge configuration.")
          .choice("merge_method", &MergeConfig::merge_method, method_choices(),
                  "the merge method, by its mergekit name (required)")
          .custom("base_model", &MergeConfig::base_model, optional_model_value(),
                  "the base model: task vectors are taken against it; methods such as ties and slerp need one")
          .custom("models", &MergeConfig::models,
                  list_value<InputSource>(model_entry_schema(), "a list of {model, parameters}", require_model),
                  "whole models to merge (give models or slices)")
          .custom("slices", &MergeConfig::slices,
                  list_value<OutputSlice>(slice_schema(), "a list of {sources, parameters}",
                                          [](const YamlValue& item, const OutputSlice&) {
                                            if (!item.node["sources"]) item.fail("missing 'sources'");
                                          }),
                  "output layers by slice, each from layer ranges of its sources (give models or slices)")
          .custom("parameters", &MergeConfig::parameters, parameters_value(),
                  "method-wide parameters, and defaults for every model's per-model ones")
          .custom("dtype", &MergeConfig::dtype, dtype_value(),
                  "the dtype the math runs in (none: float32, float64 when an input is stored in it)")
          .custom("out_dtype", &MergeConfig::out_dtype, dtype_value(),
                  "the dtype the output is stored in (none: dtype, else each tensor's stored dtype)")
          .custom("tokenizer_source", &MergeConfig::tokenizer, tokenizer_source_value(),
                  "the older form of tokenizer.source (none: the reference model's tokenizer files are copied and "
                  "vocabulary matrices cut to the fewest rows)")
          .custom("tokenizer", &MergeConfig::tokenizer, tokenizer_section_value(),
                  "the output vocabulary: source, per-token rows, pad_to_multiple_of (the tokenizer section below)")
          .field("name", &MergeConfig::name,
                 "a stage's name in a multi-document recipe (`---` between documents): later documents use its "
                 "output as a model by this name (mergekit-multi's key)")
          .field("chat_template", &MergeConfig::chat_template,
                 "the output's chat template: a name (alpaca, chatml, exaone, llama3, mistral), auto (the most "
                 "common among the models) or a Jinja template")
          .custom("device", &MergeConfig::device, config::device_value(),
                  "ladle's key: where the math runs, cpu, cuda, cuda:N or auto (inputs are read and outputs written "
                  "on the CPU); `ladle merge --device` overrides it");
  return schema;
}

// mergekit keys ladle refuses, with why; known to the reader so that they are not taken for misspellings.
void refuse_unsupported(const ConfigSource& source) {
  if (source.root()["modules"]) {
    source.fail("modules", "multi-module merges are not supported; use 'models' or 'slices'");
  }
  const YAML::Node slices = source.root()["slices"];
  if (!slices || !slices.IsSequence()) return;
  for (std::size_t i = 0; i < slices.size(); ++i) {
    if (slices[i].IsMap() && slices[i]["residual_weight"]) {
      source.fail("slices[" + std::to_string(i) + "].residual_weight",
                  "residual_weight (deprecated in mergekit) is not supported");
    }
  }
}

// A recipe holds several merges, one YAML document each (merge_recipe.h); ConfigSource reads only the first.
void require_one_document(const std::string& text, const std::string& label) {
  std::size_t documents = 0;
  try {
    documents = YAML::LoadAll(text).size();
  } catch (const YAML::Exception&) {
    config::load_yaml(text, label);  // the first document's syntax error, in the readers' format
    throw Error(label + ": not valid YAML after its first document");
  }
  if (documents > 1) {
    throw Error(label + ": holds " + std::to_string(documents) +
                " YAML documents, a multi-stage recipe, which only `ladle merge RECIPE.yml OUT_DIR` and `ladle merge "
                "check` run; give this command one merge per file");
  }
}

MergeConfig read_merge_config(const ConfigSource& source) {
  refuse_unsupported(source);
  MergeConfig config = merge_config_schema().read(source);
  const YAML::Node& root = source.root();
  if (!root["merge_method"]) {
    source.fail("merge_method", "must be set: every merge names its method (e.g. 'merge_method: linear')");
  }
  config.merge_method_line = yaml_line(root["merge_method"]);
  if (root["models"].IsDefined() == root["slices"].IsDefined()) {
    source.fail(root["models"] ? "slices" : "models",
                "give exactly one of 'models' (whole models) or 'slices' (layer ranges)");
  }
  if (root["tokenizer"] && root["tokenizer_source"]) {
    source.fail("tokenizer", "expected either tokenizer or tokenizer_source (" + source.where("tokenizer_source") +
                                 "), not both: tokenizer_source is the older form of tokenizer.source");
  }
  if (root["chat_template"]) config.chat_template_line = yaml_line(root["chat_template"]);
  return config;
}

// The keys of one list's entries as a section of the reference.
template <class Entry>
void add_entry_reference(const std::string& key, const Schema<Entry>& schema,
                         std::vector<config::KeyReference>& out) {
  out.push_back({key, "a section", "", nullptr, schema.help(), true});
  const auto keys = schema.reference(key);
  out.insert(out.end(), keys.begin(), keys.end());
}

// Each method's parameters as a section "<method>.parameters" of the reference: where they are written, their range
// and default.
void add_method_reference(const MergeMethod& method, std::vector<config::KeyReference>& out) {
  const std::string section = method.name() + ".parameters";
  out.push_back({section, "a section", "", nullptr,
                 "The parameters of merge_method " + method.name() +
                     (method.requires_base() ? " (needs a base_model)" : "") +
                     (method.parameters().empty() ? ": none." : "."),
                 true});
  for (const ParameterSpec& spec : method.parameters()) {
    std::string allowed = spec.range.text();
    if (spec.interpolation_factor) allowed = "in [0, 1], or outside to extrapolate (with a warning)";
    const nlohmann::json default_value = spec.default_value ? nlohmann::json(*spec.default_value) : nullptr;
    out.push_back({section + "." + spec.name, "a number", allowed, default_value,
                   std::string(spec.per_model ? "per model: models[].parameters, or one value for all in parameters"
                                              : "method-wide: parameters (or a slice's parameters)") +
                       (spec.required ? "; required" : ""),
                   false});
  }
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
  MergeConfig config = parse_merge_config(config::read_config_text(path, kMaxConfigBytes), path.string(),
                                          fs::absolute(path).parent_path());
  config.path = path;
  return config;
}

MergeConfig parse_merge_config(const std::string& text, const std::string& label, const fs::path& folder) {
  if (text.size() > kMaxConfigBytes) throw Error(label + ": too large for a merge config");
  require_one_document(text, label);
  MergeConfig config = read_merge_config(ConfigSource(text, label, folder));
  config.path = label;
  config.text = text;
  return config;
}

MergeConfig parse_merge_document(const std::string& document, int first_line, const std::string& label,
                                 const fs::path& folder) {
  if (document.size() > kMaxConfigBytes) throw Error(label + ": too large for a merge config");
  // Blank lines in front put the document's keys on their lines in the file, for the readers' messages.
  const std::string placed = std::string(static_cast<std::size_t>(std::max(first_line - 1, 0)), '\n') + document;
  MergeConfig config = read_merge_config(ConfigSource(placed, label, folder));
  config.path = label;
  config.text = document;
  return config;
}

std::vector<config::KeyReference> merge_config_reference() {
  std::vector<config::KeyReference> keys = merge_config_schema().reference();
  add_entry_reference("models[]", model_entry_schema(), keys);
  add_entry_reference("slices[]", slice_schema(), keys);
  add_entry_reference("slices[].sources[]", slice_source_schema(), keys);
  add_entry_reference("parameters.NAME[]", filtered_value_schema(), keys);
  add_entry_reference("tokenizer", tokenizer_schema(), keys);
  add_entry_reference("tokenizer.tokens.TOKEN", token_embedding_schema(), keys);
  add_entry_reference("tokenizer.tokens.TOKEN.source", model_token_schema(), keys);
  for (const auto& name : merge_method_names()) add_method_reference(find_merge_method(name), keys);
  return keys;
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
