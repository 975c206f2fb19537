#include "lib/model/causal_lm_config.h"

#include <cmath>
#include <limits>
#include <set>

#include "lib/util/error.h"

namespace ladle::model {
namespace {

using json = nlohmann::json;

struct ArchitectureInfo {
  const char* architecture;
  const char* model_type;
  CausalLmFamily family;
};

constexpr ArchitectureInfo kArchitectures[] = {
    {"LlamaForCausalLM", "llama", CausalLmFamily::llama},
    {"MistralForCausalLM", "mistral", CausalLmFamily::llama},
    {"Qwen2ForCausalLM", "qwen2", CausalLmFamily::llama},
    {"GPT2LMHeadModel", "gpt2", CausalLmFamily::gpt2},
};

// Sizes beyond this are not a model anyone can hold; refusing them keeps products of sizes far from overflow.
constexpr std::int64_t kMaxSize = std::int64_t{1} << 31;

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

std::string describe(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Reads the fields of one config.json object, remembering which ones were consumed so that the rest can be
// kept verbatim in extra_fields.
class FieldReader {
 public:
  FieldReader(const json& object, std::string source) : object_(object), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& expected) const {
    const auto found = object_.find(field);
    throw Error(source_ + ": field '" + field + "': expected " + expected +
                (found == object_.end() ? ", but it is missing" : ", got " + describe(*found)));
  }

  // The field's value, or nullptr when it is absent or JSON null.
  const json* find(const std::string& field) {
    consumed_.insert(field);
    const auto found = object_.find(field);
    if (found == object_.end() || found->is_null()) return nullptr;
    return &*found;
  }

  std::int64_t positive_int(const std::string& field, std::optional<std::int64_t> fallback) {
    const json* value = find(field);
    if (value == nullptr) {
      if (fallback) return *fallback;
      fail(field, "a positive integer");
    }
    // nlohmann stores non-negative integers as unsigned, negative ones as signed.
    const bool in_range =
        value->is_number_unsigned()
            ? value->get<std::uint64_t>() - 1 < static_cast<std::uint64_t>(kMaxSize)
            : value->is_number_integer() && value->get<std::int64_t>() > 0 && value->get<std::int64_t>() <= kMaxSize;
    if (!in_range) fail(field, "a positive integer no larger than 2^31");
    return value->get<std::int64_t>();
  }

  std::optional<std::int64_t> optional_positive_int(const std::string& field) {
    if (find(field) == nullptr) return std::nullopt;
    return positive_int(field, std::nullopt);
  }

  double number(const std::string& field, double fallback) {
    const json* value = find(field);
    if (value == nullptr) return fallback;
    if (!value->is_number()) fail(field, "a number");
    const double result = value->get<double>();
    if (!std::isfinite(result)) fail(field, "a finite number");
    return result;
  }

  bool boolean(const std::string& field, bool fallback) {
    const json* value = find(field);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) fail(field, "true or false");
    return value->get<bool>();
  }

  std::optional<std::string> optional_string(const std::string& field) {
    const json* value = find(field);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) fail(field, "a string");
    return value->get<std::string>();
  }

  // One token id or a list of them (Llama 3 lists several end-of-sequence tokens).
  std::vector<std::int64_t> token_ids(const std::string& field) {
    const json* value = find(field);
    if (value == nullptr) return {};
    const auto valid = [](const json& id) { return id.is_number_integer() && id.get<std::int64_t>() >= 0; };
    if (valid(*value)) return {value->get<std::int64_t>()};
    if (!value->is_array()) fail(field, "a non-negative integer or a list of them");
    std::vector<std::int64_t> ids;
    for (const auto& id : *value) {
      if (!valid(id)) fail(field, "a non-negative integer or a list of them");
      ids.push_back(id.get<std::int64_t>());
    }
    return ids;
  }

  // A field that must be absent, null or equal to `allowed` because ladle does not implement other values.
  void require_default(const std::string& field, const json& allowed, const std::string& why) {
    const json* value = find(field);
    if (value != nullptr && *value != allowed) {
      throw Error(source_ + ": field '" + field + "' = " + describe(*value) + " is not supported (" + why + ")");
    }
  }

  json unconsumed_fields() const {
    json extra = json::object();
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (consumed_.count(it.key()) == 0) extra[it.key()] = it.value();
    }
    return extra;
  }

  const std::string& source() const { return source_; }

 private:
  const json& object_;
  std::string source_;
  std::set<std::string> consumed_;
};

Activation parse_activation(FieldReader& fields, const std::string& field, Activation fallback) {
  const auto name = fields.optional_string(field);
  if (!name) return fallback;
  if (*name == "silu" || *name == "swish") return Activation::silu;
  if (*name == "gelu_new" || *name == "gelu_pytorch_tanh") return Activation::gelu_tanh;
  if (*name == "gelu") return Activation::gelu;
  fields.fail(field, "one of \"silu\", \"swish\", \"gelu\", \"gelu_new\", \"gelu_pytorch_tanh\"");
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::silu:
      return "silu";
    case Activation::gelu_tanh:
      return "gelu_new";
    case Activation::gelu:
      return "gelu";
  }
  return "silu";
}

const ArchitectureInfo& select_architecture(FieldReader& fields) {
  const json* architectures = fields.find("architectures");
  const auto model_type = fields.optional_string("model_type");
  const ArchitectureInfo* info = nullptr;
  if (architectures != nullptr) {
    if (!architectures->is_array() || architectures->empty() || !(*architectures)[0].is_string()) {
      fields.fail("architectures", "a non-empty list of architecture names");
    }
    const auto name = (*architectures)[0].get<std::string>();
    info = find_architecture(name);
    if (info == nullptr) {
      throw Error(fields.source() + ": architecture '" + name +
                  "' is not supported; supported: " + supported_architectures());
    }
    if (model_type && *model_type != info->model_type) {
      throw Error(fields.source() + ": field 'model_type' = \"" + *model_type + "\" does not match architecture '" +
                  name + "' (expected \"" + info->model_type + "\")");
    }
    return *info;
  }
  if (!model_type) {
    throw Error(fields.source() + ": neither 'architectures' nor 'model_type' says which model this is; supported: " +
                supported_architectures());
  }
  info = find_model_type(*model_type);
  if (info == nullptr) {
    throw Error(fields.source() + ": model_type '" + *model_type +
                "' is not supported; supported: " + supported_architectures());
  }
  return *info;
}

void parse_llama_family(FieldReader& fields, CausalLmConfig& config) {
  const CausalLmConfig defaults = CausalLmConfig::defaults_for(config.architecture);
  config.vocab_size = fields.positive_int("vocab_size", defaults.vocab_size);
  config.hidden_size = fields.positive_int("hidden_size", defaults.hidden_size);
  config.intermediate_size = fields.positive_int("intermediate_size", defaults.intermediate_size);
  config.num_hidden_layers = fields.positive_int("num_hidden_layers", defaults.num_hidden_layers);
  config.num_attention_heads = fields.positive_int("num_attention_heads", defaults.num_attention_heads);
  config.num_key_value_heads = fields.optional_positive_int("num_key_value_heads");
  if (!config.num_key_value_heads) config.num_key_value_heads = defaults.num_key_value_heads;
  config.head_dim = fields.optional_positive_int("head_dim");
  config.max_position_embeddings = fields.positive_int("max_position_embeddings", defaults.max_position_embeddings);
  config.norm_eps = fields.number("rms_norm_eps", defaults.norm_eps);
  config.rope_theta = fields.number("rope_theta", defaults.rope_theta);
  config.hidden_act = parse_activation(fields, "hidden_act", Activation::silu);
  config.tie_word_embeddings = fields.boolean("tie_word_embeddings", defaults.tie_word_embeddings);
  config.initializer_range = fields.number("initializer_range", defaults.initializer_range);
  config.attention_dropout = fields.number("attention_dropout", 0.0);
  fields.require_default("rope_scaling", nullptr, "ladle implements unscaled rotary embeddings only");
  if (config.model_type == "llama") {
    config.attention_qkv_bias = config.attention_output_bias = fields.boolean("attention_bias", false);
    config.mlp_bias = fields.boolean("mlp_bias", false);
  } else if (config.model_type == "qwen2") {
    config.attention_qkv_bias = true;
    config.attention_output_bias = false;
    // Qwen2 keeps sliding_window and max_window_layers in its config but uses them only with this flag.
    fields.require_default("use_sliding_window", false, "sliding-window attention is implemented for Mistral only");
  } else if (config.model_type == "mistral") {
    const json* window = fields.find("sliding_window");
    if (window != nullptr) config.sliding_window = fields.positive_int("sliding_window", std::nullopt);
  }
}

void parse_gpt2(FieldReader& fields, CausalLmConfig& config) {
  const CausalLmConfig defaults = CausalLmConfig::defaults_for(config.architecture);
  config.vocab_size = fields.positive_int("vocab_size", defaults.vocab_size);
  config.hidden_size = fields.positive_int("n_embd", defaults.hidden_size);
  config.num_hidden_layers = fields.positive_int("n_layer", defaults.num_hidden_layers);
  config.num_attention_heads = fields.positive_int("n_head", defaults.num_attention_heads);
  config.intermediate_size = fields.positive_int("n_inner", 4 * config.hidden_size);
  config.max_position_embeddings = fields.positive_int("n_positions", defaults.max_position_embeddings);
  config.norm_eps = fields.number("layer_norm_epsilon", defaults.norm_eps);
  config.hidden_act = parse_activation(fields, "activation_function", defaults.hidden_act);
  config.tie_word_embeddings = fields.boolean("tie_word_embeddings", defaults.tie_word_embeddings);
  config.initializer_range = fields.number("initializer_range", defaults.initializer_range);
  config.attention_dropout = fields.number("attn_pdrop", defaults.attention_dropout);
  config.residual_dropout = fields.number("resid_pdrop", defaults.residual_dropout);
  config.embedding_dropout = fields.number("embd_pdrop", defaults.embedding_dropout);
  fields.require_default("scale_attn_weights", true, "attention scores are always scaled by 1/sqrt(head_dim)");
  fields.require_default("scale_attn_by_inverse_layer_idx", false, "not implemented");
  fields.require_default("add_cross_attention", false, "ladle models are decoder-only");
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
  } else if (config.model_type == "qwen2") {  // Qwen2Config()
    config.vocab_size = 151936;
    config.intermediate_size = 22016;
    config.num_key_value_heads = 32;
    config.max_position_embeddings = 32768;
    config.attention_qkv_bias = true;
    config.eos_token_ids = {};
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

CausalLmConfig CausalLmConfig::from_json(const json& object, const std::string& source) {
  if (!object.is_object()) throw Error(source + ": expected a JSON object, got " + describe(object));
  FieldReader fields(object, source);
  const ArchitectureInfo& info = select_architecture(fields);
  CausalLmConfig config = defaults_for(info.architecture);
  if (config.is_gpt2()) {
    parse_gpt2(fields, config);
  } else {
    parse_llama_family(fields, config);
  }
  config.eos_token_ids = fields.token_ids("eos_token_id");
  fields.find("torch_dtype");  // describes the stored tensors, which the reader sees for itself
  config.extra_fields = fields.unconsumed_fields();
  config.validate(source);
  return config;
}

void CausalLmConfig::validate(const std::string& source) const {
  const auto fail = [&](const std::string& message) { throw Error(source + ": " + message); };
  const ArchitectureInfo* info = find_architecture(architecture);
  if (info == nullptr)
    fail("architecture '" + architecture + "' is not supported; supported: " + supported_architectures());
  if (model_type != info->model_type || family != info->family) {
    fail("model_type \"" + model_type + "\" and family do not match architecture '" + architecture + "'");
  }
  const auto check_size = [&](const char* field, std::int64_t value) {
    if (value <= 0 || value > kMaxSize) {
      fail(std::string(field) + " = " + std::to_string(value) + ": expected a positive integer no larger than 2^31");
    }
  };
  check_size("vocab_size", vocab_size);
  check_size("hidden_size", hidden_size);
  check_size("intermediate_size", intermediate_size);
  check_size("num_hidden_layers", num_hidden_layers);
  check_size("num_attention_heads", num_attention_heads);
  check_size("max_position_embeddings", max_position_embeddings);
  if (num_key_value_heads) check_size("num_key_value_heads", *num_key_value_heads);
  if (head_dim) check_size("head_dim", *head_dim);
  if (sliding_window) check_size("sliding_window", *sliding_window);
  if (!head_dim && hidden_size % num_attention_heads != 0) {
    fail("hidden_size " + std::to_string(hidden_size) + " is not divisible by num_attention_heads " +
         std::to_string(num_attention_heads));
  }
  if (num_attention_heads % key_value_heads() != 0) {
    fail("num_attention_heads " + std::to_string(num_attention_heads) + " is not divisible by num_key_value_heads " +
         std::to_string(key_value_heads()));
  }
  if (!(norm_eps > 0) || !std::isfinite(norm_eps)) fail("the norm epsilon must be a positive number");
  if (!(initializer_range >= 0) || !std::isfinite(initializer_range)) {
    fail("initializer_range must be a non-negative number");
  }
  for (const auto& [field, p] :
       {std::pair{"attention dropout", attention_dropout}, std::pair{"residual dropout", residual_dropout},
        std::pair{"embedding dropout", embedding_dropout}}) {
    if (!(p >= 0 && p < 1)) fail(std::string(field) + " " + std::to_string(p) + " is outside [0, 1)");
  }
  if (!extra_fields.is_object()) fail("extra_fields must be a JSON object");
  if (is_gpt2()) {
    if (num_key_value_heads || head_dim || sliding_window) {
      fail("GPT-2 has no num_key_value_heads, head_dim or sliding_window");
    }
    if (!attention_qkv_bias || !attention_output_bias || !mlp_bias) fail("GPT-2's projections always have biases");
    return;
  }
  if (attention_head_dim() % 2 != 0) {
    fail("head dimension " + std::to_string(attention_head_dim()) + " must be even for rotary embeddings");
  }
  if (!(rope_theta > 0) || !std::isfinite(rope_theta)) fail("rope_theta must be a positive number");
  const bool llama = model_type == "llama", qwen2 = model_type == "qwen2";
  if (llama ? attention_qkv_bias != attention_output_bias : attention_qkv_bias != qwen2 || attention_output_bias) {
    fail(model_type +
         " cannot have these attention biases (Llama: attention_bias for all of q/k/v/o_proj; "
         "Qwen2: q/k/v_proj only; Mistral: none)");
  }
  if (mlp_bias && !llama) fail(model_type + " has no MLP biases (only Llama's mlp_bias adds them)");
  if (sliding_window && model_type != "mistral") fail("sliding_window is implemented for Mistral only");
}

json CausalLmConfig::to_json(const std::string& torch_dtype) const {
  validate();
  json config = extra_fields;
  config["architectures"] = json::array({architecture});
  config["model_type"] = model_type;
  config["vocab_size"] = vocab_size;
  config["tie_word_embeddings"] = tie_word_embeddings;
  config["initializer_range"] = initializer_range;
  config["torch_dtype"] = torch_dtype;
  if (eos_token_ids.empty()) {
    config["eos_token_id"] = nullptr;
  } else if (eos_token_ids.size() == 1) {
    config["eos_token_id"] = eos_token_ids[0];
  } else {
    config["eos_token_id"] = eos_token_ids;
  }
  if (is_gpt2()) {
    config["n_embd"] = hidden_size;
    config["n_inner"] = intermediate_size;
    config["n_layer"] = num_hidden_layers;
    config["n_head"] = num_attention_heads;
    config["n_positions"] = max_position_embeddings;
    config["layer_norm_epsilon"] = norm_eps;
    config["activation_function"] = activation_name(hidden_act);
    config["attn_pdrop"] = attention_dropout;
    config["resid_pdrop"] = residual_dropout;
    config["embd_pdrop"] = embedding_dropout;
    return config;
  }
  config["hidden_size"] = hidden_size;
  config["intermediate_size"] = intermediate_size;
  config["num_hidden_layers"] = num_hidden_layers;
  config["num_attention_heads"] = num_attention_heads;
  config["num_key_value_heads"] = key_value_heads();
  if (head_dim) config["head_dim"] = *head_dim;
  config["max_position_embeddings"] = max_position_embeddings;
  config["rms_norm_eps"] = norm_eps;
  config["rope_theta"] = rope_theta;
  config["rope_scaling"] = nullptr;
  config["hidden_act"] = activation_name(hidden_act);
  config["attention_dropout"] = attention_dropout;
  if (model_type == "llama") {
    config["attention_bias"] = attention_qkv_bias;
    config["mlp_bias"] = mlp_bias;
  }
  if (model_type == "mistral") {
    config["sliding_window"] = sliding_window ? json(*sliding_window) : json(nullptr);
  }
  return config;
}

}  // namespace ladle::model
