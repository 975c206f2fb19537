#include "lib/model/causal_lm_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>

#include "lib/config/config_source.h"
#include "lib/config/schema.h"
#include "lib/io/json_file.h"
#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"
#include "lib/util/error.h"

namespace ladle::model {
namespace {

using json = nlohmann::json;
using config::above;
using config::at_least;
using config::Choices;
using config::ConfigSource;
using config::CustomValue;
using config::in_closed;
using config::in_closed_open;
using config::Schema;
using config::ValueRange;
using config::ValueType;
using config::YamlValue;

struct ArchitectureInfo {
  const char* architecture;
  const char* model_type;
  CausalLmFamily family;
};

constexpr ArchitectureInfo kArchitectures[] = {
    {"LlamaForCausalLM", "llama", CausalLmFamily::llama},
    {"MistralForCausalLM", "mistral", CausalLmFamily::llama},
    {"Qwen2ForCausalLM", "qwen2", CausalLmFamily::llama},
    {"Qwen3ForCausalLM", "qwen3", CausalLmFamily::llama},
    {"Gemma3ForCausalLM", "gemma3_text", CausalLmFamily::gemma3},
    {"GPT2LMHeadModel", "gpt2", CausalLmFamily::gpt2},
};

// Sizes beyond 2^31 are not a model anyone can hold; refusing them keeps products of sizes far from overflow.
constexpr double kMaxSize = 2147483648.0;

ValueRange size_range() { return in_closed(1, kMaxSize); }
// The deepest released decoders have 126 layers (Llama 3.1 405B); 2^16 leaves room for any model and keeps the
// per-layer lists (layer_types, read and written layer by layer) small. A fuzzed config.json with 60,000,000
// layers ran the fuzzer out of memory writing layer_types.
constexpr double kMaxLayers = 65536.0;
ValueRange layer_count_range() { return in_closed(1, kMaxLayers); }
ValueRange probability_range() { return in_closed_open(0, 1); }

const ArchitectureInfo* find_architecture(const std::string& architecture) {
  for (const auto& info : kArchitectures) {
    if (architecture == info.architecture) return &info;
  }
  return nullptr;
}

const ArchitectureInfo* find_model_type(const std::string& model_type) {
  for (const auto& info : kArchitectures) {
    if (model_type == info.model_type) return &info;
  }
  return nullptr;
}

// The activation names transformers' ACT2FN accepts for the functions ladle implements; a family's own spelling
// of the tanh GELU comes first, so that to_json writes it back.
Choices<Activation> activations(const char* tanh_name, const char* other_tanh_name) {
  return {{"silu", Activation::silu},
          {"swish", Activation::silu},
          {tanh_name, Activation::gelu_tanh},
          {other_tanh_name, Activation::gelu_tanh},
          {"gelu", Activation::gelu}};
}

// "eos_token_id": one id or a list of them (Llama 3 and Gemma 3 list several end-of-turn tokens); null: none.
CustomValue<std::vector<std::int64_t>> token_ids_value() {
  return {"a token id, a list of them, or null",
          [](const YamlValue& value) -> std::vector<std::int64_t> {
            const auto range = ValueType<std::int64_t>::natural_range().intersect(at_least(0));
            if (value.node.IsSequence()) return ValueType<std::vector<std::int64_t>>::read(value, range);
            if (value.node.IsNull()) return {};
            return {ValueType<std::int64_t>::read(value, range)};
          },
          [](const std::vector<std::int64_t>& ids) {
            if (ids.empty()) return json(nullptr);
            return ids.size() == 1 ? json(ids[0]) : json(ids);
          }};
}

const Schema<RopeScaling>& rope_scaling_schema() {
  static const auto schema =
      Schema<RopeScaling>("Llama 3.x rotary frequency scaling")
          .field("rope_type", &RopeScaling::rope_type, "\"llama3\"")
          .required()
          .field("factor", &RopeScaling::factor, at_least(1), "divisor of the low frequencies")
          .required()
          .field("low_freq_factor", &RopeScaling::low_freq_factor, above(0),
                 "wavelengths above original_max_position_embeddings / low_freq_factor are scaled")
          .required()
          .field("high_freq_factor", &RopeScaling::high_freq_factor, above(0),
                 "wavelengths below original_max_position_embeddings / high_freq_factor are kept")
          .required()
          .field("original_max_position_embeddings", &RopeScaling::original_max_position_embeddings, size_range(),
                 "the context length of pre-training")
          .required();
  return schema;
}

// "rope_scaling": null, or Llama 3's scaling; every other rope type changes the frequencies in ways ladle does not
// implement and is refused by name.
CustomValue<std::optional<RopeScaling>> rope_scaling_value() {
  return {"null or {rope_type: llama3, factor, low_freq_factor, high_freq_factor, original_max_position_embeddings}",
          [](const YamlValue& value) -> std::optional<RopeScaling> {
            if (value.node.IsNull()) return std::nullopt;
            if (!value.node.IsMap()) value.expected("null or a mapping");
            const YAML::Node type = value.node["rope_type"] ? value.node["rope_type"] : value.node["type"];
            if (!type || !type.IsScalar() || type.Scalar() != "llama3") {
              value.fail("rope type " + (type ? config::yaml_shown(type) : std::string("(none given)")) +
                         " is not supported; ladle implements \"llama3\" only");
            }
            RopeScaling scaling;
            rope_scaling_schema().read(value, scaling);
            return scaling;
          },
          [](const std::optional<RopeScaling>& scaling) {
            return scaling ? rope_scaling_schema().to_json(*scaling) : json(nullptr);
          }};
}

// GPT-2's "n_inner": null means 4 × n_embd (GPT2Config), kept as 0 until n_embd is known.
CustomValue<std::int64_t> inner_size_value() {
  return {"a whole number in [1, 2147483648], or null for 4 × n_embd",
          [](const YamlValue& value) -> std::int64_t {
            if (value.node.IsNull()) return 0;
            return ValueType<std::int64_t>::read(value, size_range());
          },
          [](const std::int64_t& size) { return json(size); }};
}

// Whether the family's transformers config class derives a head key from the others or defaults it to a number.
enum class HeadKey { derived, required };

// The keys of the Llama-shaped families (LlamaConfig's names). `kv_heads` and `head_dim` say whether
// num_key_value_heads and head_dim are required: MistralConfig, Qwen2Config, Qwen3Config and Gemma3TextConfig
// default them to fixed numbers (8, 32, 128, 256, ...) rather than to num_attention_heads and
// hidden_size / num_attention_heads, so a file without them would silently get another model.
Schema<CausalLmConfig>& add_llama_keys(Schema<CausalLmConfig>& schema, HeadKey kv_heads, HeadKey head_dim) {
  const ValueRange size = size_range();
  schema.field("vocab_size", &CausalLmConfig::vocab_size, size, "rows of the token embedding and of lm_head")
      .required()
      .field("hidden_size", &CausalLmConfig::hidden_size, size, "width of the residual stream")
      .required()
      .field("intermediate_size", &CausalLmConfig::intermediate_size, size, "width of the MLP's hidden layer")
      .required()
      .field("num_hidden_layers", &CausalLmConfig::num_hidden_layers, layer_count_range(), "decoder blocks")
      .required()
      .field("num_attention_heads", &CausalLmConfig::num_attention_heads, size, "query heads")
      .required()
      .field("num_key_value_heads", &CausalLmConfig::num_key_value_heads, size,
             "key/value heads (grouped-query attention); null: num_attention_heads");
  if (kv_heads == HeadKey::required) schema.required();
  schema.field("head_dim", &CausalLmConfig::head_dim, size, "width of one head; null: hidden_size / heads");
  if (head_dim == HeadKey::required) schema.required();
  return schema.field("max_position_embeddings", &CausalLmConfig::max_position_embeddings, size, "longest sequence")
      .field("rms_norm_eps", &CausalLmConfig::norm_eps, above(0), "RMSNorm's epsilon")
      .field("rope_theta", &CausalLmConfig::rope_theta, above(0), "rotary base frequency")
      .custom("rope_scaling", &CausalLmConfig::rope_scaling, rope_scaling_value(), "rotary frequency scaling")
      .field("tie_word_embeddings", &CausalLmConfig::tie_word_embeddings, "lm_head shares the token embedding")
      .field("initializer_range", &CausalLmConfig::initializer_range, at_least(0), "std of the initial weights")
      .field("attention_dropout", &CausalLmConfig::attention_dropout, probability_range(),
             "dropout on attention weights")
      .custom("eos_token_id", &CausalLmConfig::eos_token_ids, token_ids_value(), "end-of-sequence token ids");
}

Schema<CausalLmConfig>& add_hidden_act(Schema<CausalLmConfig>& schema) {
  return schema.choice("hidden_act", &CausalLmConfig::hidden_act, activations("gelu_new", "gelu_pytorch_tanh"),
                       "MLP gate activation");
}

// One flag for q/k/v/o_proj (LlamaConfig, Qwen3Config, Gemma3TextConfig); read_config copies it to o_proj.
Schema<CausalLmConfig>& add_attention_bias(Schema<CausalLmConfig>& schema) {
  return schema.field("attention_bias", &CausalLmConfig::attention_qkv_bias, "biases on q/k/v/o_proj");
}

Schema<CausalLmConfig> llama_schema() {
  Schema<CausalLmConfig> schema("LlamaConfig");
  add_hidden_act(add_llama_keys(schema, HeadKey::derived, HeadKey::derived));
  return add_attention_bias(schema).field("mlp_bias", &CausalLmConfig::mlp_bias, "biases on the MLP projections");
}

Schema<CausalLmConfig> mistral_schema() {
  Schema<CausalLmConfig> schema("MistralConfig");
  return add_hidden_act(add_llama_keys(schema, HeadKey::required, HeadKey::derived))
      .field("sliding_window", &CausalLmConfig::sliding_window, size_range(), "attention window; null: none");
}

Schema<CausalLmConfig> qwen2_schema() {
  Schema<CausalLmConfig> schema("Qwen2Config");
  return add_hidden_act(add_llama_keys(schema, HeadKey::required, HeadKey::derived));
}

Schema<CausalLmConfig> qwen3_schema() {
  Schema<CausalLmConfig> schema("Qwen3Config");  // head_dim defaults to 128 whatever the hidden size
  return add_attention_bias(add_hidden_act(add_llama_keys(schema, HeadKey::required, HeadKey::required)));
}

Schema<CausalLmConfig> gemma3_schema() {
  Schema<CausalLmConfig> schema("Gemma3TextConfig");
  add_llama_keys(schema, HeadKey::required, HeadKey::required)
      .choice("hidden_activation", &CausalLmConfig::hidden_act, activations("gelu_pytorch_tanh", "gelu_new"),
              "MLP gate activation (GeGLU)");
  return add_attention_bias(schema)
      .field("query_pre_attn_scalar", &CausalLmConfig::query_pre_attn_scalar, above(0),
             "attention scores are scaled by its inverse square root")
      .field("sliding_window", &CausalLmConfig::sliding_window, size_range(), "window of the sliding layers")
      .field("layer_types", &CausalLmConfig::layer_types, "sliding_attention or full_attention per layer")
      .field("sliding_window_pattern", &CausalLmConfig::sliding_window_pattern, size_range(),
             "every pattern-th layer is full when layer_types is not given")
      .field("rope_local_base_freq", &CausalLmConfig::rope_local_base_freq, above(0), "rotary base, sliding layers")
      .field("final_logit_softcapping", &CausalLmConfig::final_logit_softcapping, above(0), "cap of the logits")
      .field("attn_logit_softcapping", &CausalLmConfig::attn_logit_softcapping, above(0), "cap of the scores");
}

Schema<CausalLmConfig> gpt2_schema() {
  const ValueRange size = size_range(), probability = probability_range();
  return Schema<CausalLmConfig>("GPT2Config")
      .field("vocab_size", &CausalLmConfig::vocab_size, size, "rows of the token embedding and of lm_head")
      .required()
      .field("n_embd", &CausalLmConfig::hidden_size, size, "width of the residual stream")
      .required()
      .field("n_layer", &CausalLmConfig::num_hidden_layers, layer_count_range(), "decoder blocks")
      .required()
      .field("n_head", &CausalLmConfig::num_attention_heads, size, "attention heads")
      .required()
      .field("n_positions", &CausalLmConfig::max_position_embeddings, size, "rows of the position table")
      .required()
      .custom("n_inner", &CausalLmConfig::intermediate_size, inner_size_value(), "width of the MLP's hidden layer")
      .field("layer_norm_epsilon", &CausalLmConfig::norm_eps, above(0), "LayerNorm's epsilon")
      .choice("activation_function", &CausalLmConfig::hidden_act, activations("gelu_new", "gelu_pytorch_tanh"),
              "MLP activation")
      .field("tie_word_embeddings", &CausalLmConfig::tie_word_embeddings, "lm_head shares the token embedding")
      .field("initializer_range", &CausalLmConfig::initializer_range, at_least(0), "std of the initial weights")
      .field("attn_pdrop", &CausalLmConfig::attention_dropout, probability, "dropout on attention weights")
      .field("resid_pdrop", &CausalLmConfig::residual_dropout, probability, "dropout on each branch's output")
      .field("embd_pdrop", &CausalLmConfig::embedding_dropout, probability, "dropout on the embeddings")
      .custom("eos_token_id", &CausalLmConfig::eos_token_ids, token_ids_value(), "end-of-sequence token ids");
}

// The schema of a model type's config.json keys, built once.
const Schema<CausalLmConfig>& schema_for(const std::string& model_type) {
  static const Schema<CausalLmConfig> llama = llama_schema(), mistral = mistral_schema(), qwen2 = qwen2_schema(),
                                      qwen3 = qwen3_schema(), gemma3 = gemma3_schema(), gpt2 = gpt2_schema();
  if (model_type == "mistral") return mistral;
  if (model_type == "qwen2") return qwen2;
  if (model_type == "qwen3") return qwen3;
  if (model_type == "gemma3_text") return gemma3;
  if (model_type == "gpt2") return gpt2;
  return llama;
}

// Keys ladle does not read but refuses unless they hold the value that means "not used", because they change the
// computation.
struct RefusedKey {
  const char* model_type;  // nullptr: every model type
  const char* key;
  json allowed;
  const char* why;
};

const std::vector<RefusedKey>& refused_keys() {
  static const std::vector<RefusedKey> keys = {
      {nullptr, "rope_parameters", nullptr, "transformers 5's rope format; give rope_theta and rope_scaling instead"},
      {"qwen2", "use_sliding_window", false, "sliding-window attention is implemented for Gemma 3 only"},
      {"qwen3", "use_sliding_window", false, "sliding-window attention is implemented for Gemma 3 only"},
      {"gemma3_text", "use_bidirectional_attention", false, "ladle's models are causal"},
      {"gpt2", "scale_attn_weights", true, "attention scores are always scaled by 1/sqrt(head_dim)"},
      {"gpt2", "scale_attn_by_inverse_layer_idx", false,
       "ladle does not scale attention scores by 1 / (layer index + 1)"},
      {"gpt2", "add_cross_attention", false, "ladle models are decoder-only"},
  };
  return keys;
}

void refuse_unsupported(const json& document, const ConfigSource& source, const std::string& model_type) {
  for (const auto& refused : refused_keys()) {
    const auto found = document.find(refused.key);
    const bool applies = refused.model_type == nullptr || model_type == refused.model_type;
    if (!applies || found == document.end() || found->is_null()) continue;
    if (*found != refused.allowed) source.fail(refused.key, found->dump() + " is not supported (" + refused.why + ")");
  }
}

const ArchitectureInfo& select_architecture(const json& document, const ConfigSource& source) {
  const auto architectures = document.find("architectures");
  const auto model_type = document.find("model_type");
  if (model_type != document.end() && !model_type->is_string()) source.fail("model_type", "expected a string");
  if (architectures != document.end() && !architectures->is_null()) {
    if (!architectures->is_array() || architectures->empty() || !(*architectures)[0].is_string()) {
      source.fail("architectures", "expected a non-empty list of architecture names");
    }
    const auto name = (*architectures)[0].get<std::string>();
    const ArchitectureInfo* info = find_architecture(name);
    if (info == nullptr) {
      source.fail("architectures", "'" + name + "' is not supported; supported: " + supported_architectures());
    }
    if (model_type != document.end() && *model_type != info->model_type) {
      source.fail("model_type", model_type->dump() + " does not match architecture '" + name + "' (expected \"" +
                                    info->model_type + "\")");
    }
    return *info;
  }
  if (model_type == document.end()) {
    throw Error(source.label() + ": neither 'architectures' nor 'model_type' says which model this is; supported: " +
                supported_architectures());
  }
  const ArchitectureInfo* info = find_model_type(model_type->get<std::string>());
  if (info == nullptr) {
    source.fail("model_type", model_type->dump() + " is not supported; supported: " + supported_architectures());
  }
  return *info;
}

// Reads `document` (the same keys as `source`, which knows their lines) with its family's schema, starting from
// the family's transformers defaults; the keys no schema declares are kept in extra_fields.
CausalLmConfig read_config(const json& document, const ConfigSource& source) {
  const ArchitectureInfo& info = select_architecture(document, source);
  refuse_unsupported(document, source, info.model_type);
  CausalLmConfig config = CausalLmConfig::defaults_for(info.architecture);
  config.eos_token_ids.clear();  // an absent eos_token_id means none
  if (config.is_gpt2()) config.intermediate_size = 0;
  const auto unknown = schema_for(config.model_type).read_known(YamlValue{source.root(), "", source}, config);
  if (config.is_gpt2() && config.intermediate_size == 0) config.intermediate_size = 4 * config.hidden_size;
  if (config.model_type == "llama" || config.model_type == "qwen3" || config.family == CausalLmFamily::gemma3) {
    config.attention_output_bias = config.attention_qkv_bias;
  }
  const std::set<std::string> interpreted = {"architectures", "model_type", "torch_dtype"};
  for (const auto& key : unknown) {
    const auto value = document.find(key);
    if (interpreted.count(key) == 0 && value != document.end()) config.extra_fields[key] = *value;
  }
  config.validate(source.label());
  return config;
}

}  // namespace

std::string supported_architectures() {
  std::string names;
  for (const auto& info : kArchitectures) names += (names.empty() ? "" : ", ") + std::string(info.architecture);
  return names;
}

CausalLmConfig CausalLmConfig::defaults_for(const std::string& architecture) {
  const ArchitectureInfo* info = find_architecture(architecture);
  if (info == nullptr) {
    throw Error("architecture '" + architecture + "' is not supported; supported: " + supported_architectures());
  }
  CausalLmConfig config;  // LlamaConfig()'s defaults
  config.family = info->family;
  config.architecture = info->architecture;
  config.model_type = info->model_type;
  config.eos_token_ids = {2};
  if (config.model_type == "mistral") {  // MistralConfig()
    config.intermediate_size = 14336;
    config.num_key_value_heads = 8;
    config.max_position_embeddings = 4096 * 32;
    config.sliding_window = 4096;
  } else if (config.model_type == "qwen2" || config.model_type == "qwen3") {  // Qwen2Config(), Qwen3Config()
    config.vocab_size = 151936;
    config.intermediate_size = 22016;
    config.num_key_value_heads = 32;
    config.max_position_embeddings = 32768;
    config.attention_qkv_bias = config.model_type == "qwen2";
    config.eos_token_ids = {};
    if (config.model_type == "qwen3") config.head_dim = 128;
  } else if (config.family == CausalLmFamily::gemma3) {  // Gemma3TextConfig()
    config.vocab_size = 262208;
    config.hidden_size = 2304;
    config.intermediate_size = 9216;
    config.num_hidden_layers = 26;
    config.num_attention_heads = 8;
    config.num_key_value_heads = 4;
    config.head_dim = 256;
    config.max_position_embeddings = 131072;
    config.rope_theta = 1000000.0;
    config.hidden_act = Activation::gelu_tanh;
    config.tie_word_embeddings = true;
    config.query_pre_attn_scalar = 256;
    config.sliding_window = 4096;
    config.sliding_window_pattern = 6;
    config.eos_token_ids = {1};
  } else if (config.model_type == "gpt2") {  // GPT2Config()
    config.vocab_size = 50257;
    config.hidden_size = 768;
    config.intermediate_size = 4 * 768;
    config.num_hidden_layers = 12;
    config.num_attention_heads = 12;
    config.max_position_embeddings = 1024;
    config.norm_eps = 1e-5;
    config.hidden_act = Activation::gelu_tanh;
    config.attention_qkv_bias = config.attention_output_bias = config.mlp_bias = true;
    config.tie_word_embeddings = true;
    config.attention_dropout = config.residual_dropout = config.embedding_dropout = 0.1;
    config.eos_token_ids = {50256};
  }
  return config;
}

CausalLmConfig CausalLmConfig::from_json(const json& document, const std::string& source) {
  if (!document.is_object()) {
    std::string shown = document.dump();
    if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
    throw Error(source + ": expected a JSON object, got " + shown);
  }
  return read_config(document, ConfigSource(document, source));
}

CausalLmConfig CausalLmConfig::from_file(const std::filesystem::path& path) {
  return from_text(io::read_text_file(path, io::kMaxJsonFileBytes), path);
}

CausalLmConfig CausalLmConfig::from_text(const std::string& text, const std::filesystem::path& path) {
  const json document = io::parse_json_strict(text, path.string(), io::kMaxConfigJsonDepth);
  if (!document.is_object()) throw Error(path.string() + ": expected a JSON object of config.json fields");
  // JSON is YAML: parsed again as YAML, every key keeps its line for the messages. A file yaml-cpp cannot parse
  // (a few JSON escapes) is read without lines.
  std::optional<ConfigSource> source;
  try {
    source.emplace(text, path.string(), path.parent_path());
  } catch (const Error&) {
    return read_config(document, ConfigSource(document, path.string()));
  }
  return read_config(document, *source);
}

bool CausalLmConfig::is_sliding_layer(std::int64_t layer) const {
  if (family != CausalLmFamily::gemma3) return false;
  if (!layer_types.empty()) return layer_types.at(static_cast<std::size_t>(layer)) == kSlidingAttention;
  return (layer + 1) % sliding_window_pattern.value_or(6) != 0;
}

double CausalLmConfig::attention_scale() const {
  return 1.0 / std::sqrt(query_pre_attn_scalar.value_or(static_cast<double>(attention_head_dim())));
}

void CausalLmConfig::validate(const std::string& source) const {
  const auto fail = [&](const std::string& message) { throw Error(source + ": " + message); };
  const ArchitectureInfo* info = find_architecture(architecture);
  if (info == nullptr) {
    fail("architecture '" + architecture + "' is not supported; supported: " + supported_architectures());
  }
  if (model_type != info->model_type || family != info->family) {
    fail("model_type \"" + model_type + "\" and family do not match architecture '" + architecture + "'");
  }
  // Each key's own range, as its family's schema declares it (GPT-2's keys under GPT-2's names).
  try {
    schema_for(model_type).check(*this);
  } catch (const config::ConfigError& error) {
    fail(error.what());
  }
  if (intermediate_size < 1 || intermediate_size > kMaxSize) fail("intermediate_size must lie in [1, 2^31]");
  if (!head_dim && hidden_size % num_attention_heads != 0) {
    fail("hidden_size " + std::to_string(hidden_size) + " is not divisible by num_attention_heads " +
         std::to_string(num_attention_heads));
  }
  if (num_attention_heads % key_value_heads() != 0) {
    fail("num_attention_heads " + std::to_string(num_attention_heads) + " is not divisible by num_key_value_heads " +
         std::to_string(key_value_heads()));
  }
  if (!(residual_dropout >= 0 && residual_dropout < 1) || !(embedding_dropout >= 0 && embedding_dropout < 1)) {
    fail("residual and embedding dropout must lie in [0, 1)");
  }
  if (!extra_fields.is_object()) fail("extra_fields must be a JSON object");
  if (is_gpt2()) {
    if (num_key_value_heads || head_dim || sliding_window || rope_scaling) {
      fail("GPT-2 has no num_key_value_heads, head_dim, sliding_window or rope_scaling");
    }
    if (!attention_qkv_bias || !attention_output_bias || !mlp_bias) fail("GPT-2's projections always have biases");
    return;
  }
  if (attention_head_dim() % 2 != 0) {
    fail("head dimension " + std::to_string(attention_head_dim()) + " must be even for rotary embeddings");
  }
  if (rope_scaling && !(rope_scaling->low_freq_factor < rope_scaling->high_freq_factor)) {
    fail("rope_scaling: low_freq_factor must be below high_freq_factor");
  }
  const bool qwen2 = model_type == "qwen2";
  const bool one_bias_flag = model_type == "llama" || model_type == "qwen3" || family == CausalLmFamily::gemma3;
  if (one_bias_flag ? attention_qkv_bias != attention_output_bias
                    : attention_qkv_bias != qwen2 || attention_output_bias) {
    fail(model_type +
         " cannot have these attention biases (Llama, Qwen3, Gemma 3: attention_bias for all of q/k/v/o_proj; "
         "Qwen2: q/k/v_proj only; Mistral: none)");
  }
  if (mlp_bias && model_type != "llama") fail(model_type + " has no MLP biases (only Llama's mlp_bias adds them)");
  if (has_query_key_norm() && (!head_dim || !num_key_value_heads)) {
    fail(model_type + " needs head_dim and num_key_value_heads");
  }
  if (family != CausalLmFamily::gemma3) {
    if (sliding_window && model_type != "mistral") fail("sliding_window is implemented for Mistral and Gemma 3 only");
    if (query_pre_attn_scalar || !layer_types.empty() || final_logit_softcapping || attn_logit_softcapping) {
      fail(model_type + " has no query_pre_attn_scalar, layer_types or soft-capping (Gemma 3 keys)");
    }
    return;
  }
  if (!sliding_window) fail("Gemma 3 needs a sliding_window for its sliding layers");
  if (!query_pre_attn_scalar) fail("Gemma 3 needs query_pre_attn_scalar");
  if (layer_types.empty()) return;
  if (static_cast<std::int64_t>(layer_types.size()) != num_hidden_layers) {
    fail("layer_types has " + std::to_string(layer_types.size()) + " entries for " + std::to_string(num_hidden_layers) +
         " layers");
  }
  for (const auto& type : layer_types) {
    if (type != kSlidingAttention && type != kFullAttention) {
      fail("layer_types: '" + type + "' is neither sliding_attention nor full_attention");
    }
  }
}

json CausalLmConfig::to_json(const std::string& torch_dtype) const {
  validate();
  json config = extra_fields;
  config.update(schema_for(model_type).to_json(*this));
  config["architectures"] = json::array({architecture});
  config["model_type"] = model_type;
  config["torch_dtype"] = torch_dtype;
  if (is_gpt2()) return config;
  // Explicit head counts, and no "head_dim": null (Qwen2's attention would take the null for a width).
  config["num_key_value_heads"] = key_value_heads();
  if (!head_dim) config.erase("head_dim");
  if (family == CausalLmFamily::gemma3) {
    // Written out layer by layer: transformers from 4.53 reads layer_types, earlier ones sliding_window_pattern.
    json types = json::array();
    for (std::int64_t i = 0; i < num_hidden_layers; ++i) {
      types.push_back(is_sliding_layer(i) ? kSlidingAttention : kFullAttention);
    }
    config["layer_types"] = types;
    config["sliding_window_pattern"] = sliding_window_pattern.value_or(6);
  }
  return config;
}

}  // namespace ladle::model
