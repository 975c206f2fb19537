#include "tests/support/random_checkpoints.h"

#include <ATen/ATen.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "lib/io/checkpoint_writer.h"
#include "lib/util/string_affixes.h"

namespace ladle::testing {

namespace fs = std::filesystem;

std::vector<std::string> random_llama_tensor_names(const RandomLlamaOptions& options) {
  std::vector<std::string> names = {"model.embed_tokens.weight"};
  for (std::int64_t layer = 0; layer < options.layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    for (const char* suffix :
         {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
          "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight", "input_layernorm.weight",
          "post_attention_layernorm.weight"}) {
      names.push_back(prefix + suffix);
    }
  }
  names.push_back("model.norm.weight");
  names.push_back("lm_head.weight");
  return names;
}

nlohmann::json random_llama_config(const RandomLlamaOptions& options) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", options.hidden},
          {"intermediate_size", options.intermediate},
          {"num_hidden_layers", options.layers},
          {"num_attention_heads", options.heads},
          {"num_key_value_heads", options.heads},
          {"vocab_size", options.vocab},
          {"max_position_embeddings", 128},
          {"rms_norm_eps", 1e-5},
          {"tie_word_embeddings", false},
          {"torch_dtype", options.dtype == c10::kBFloat16 ? "bfloat16"
                          : options.dtype == c10::kHalf   ? "float16"
                                                          : "float32"}};
}

namespace {

std::vector<std::int64_t> shape_of(const std::string& name, const RandomLlamaOptions& options) {
  if (ends_with(name, "embed_tokens.weight") || ends_with(name, "lm_head.weight")) {
    return {options.vocab, options.hidden};
  }
  if (ends_with(name, "norm.weight")) return {options.hidden};
  if (ends_with(name, "gate_proj.weight") || ends_with(name, "up_proj.weight")) {
    return {options.intermediate, options.hidden};
  }
  if (ends_with(name, "down_proj.weight")) return {options.hidden, options.intermediate};
  return {options.hidden, options.hidden};
}

}  // namespace

NamedTensors write_random_llama(const fs::path& directory, const RandomLlamaOptions& options) {
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  NamedTensors tensors;
  for (const auto& name : random_llama_tensor_names(options)) {
    at::Tensor values = at::randn(shape_of(name, options), generator, at::TensorOptions().dtype(at::kFloat));
    tensors.insert(name, values.to(options.dtype));
  }
  io::CheckpointWriteOptions write_options;
  write_options.max_shard_bytes = options.max_shard_bytes;
  io::save_checkpoint(directory, tensors, random_llama_config(options), write_options);
  if (options.tokenizer) {
    const std::string tag = options.tokenizer_tag.empty() ? "seed-" + std::to_string(options.seed)
                                                          : options.tokenizer_tag;
    write_text_file(directory / "tokenizer.json",
                    nlohmann::json{{"version", "1.0"}, {"ladle_test_tag", tag}}.dump() + "\n");
    write_text_file(directory / "tokenizer_config.json",
                    nlohmann::json{{"model_max_length", 128}, {"ladle_test_tag", tag}}.dump() + "\n");
    write_text_file(directory / "special_tokens_map.json",
                    nlohmann::json{{"bos_token", "<s>"}, {"eos_token", "</s>"}}.dump() + "\n");
  }
  return tensors;
}

fs::path write_text_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
  return path;
}

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace ladle::testing
