// Small random Llama-style Hugging Face model folders for tests: config.json, sharded safetensors with an index,
// and stand-in tokenizer files, written with ladle's own checkpoint writer.
//
//   RandomLlamaOptions options;
//   options.seed = 2;
//   const NamedTensors tensors = write_random_llama(dir + "/a", options);
//
// Tensor names and shapes are those of transformers' LlamaForCausalLM: model.embed_tokens.weight [vocab, hidden],
// per layer self_attn.{q,k,v,o}_proj.weight, mlp.{gate,up,down}_proj.weight, input_layernorm.weight and
// post_attention_layernorm.weight, then model.norm.weight and lm_head.weight [vocab, hidden].
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/weights/named_tensors.h"

namespace ladle::testing {

struct RandomLlamaOptions {
  std::int64_t layers = 2;                      // num_hidden_layers
  std::int64_t hidden = 16;                     // hidden_size
  std::int64_t intermediate = 24;               // intermediate_size
  std::int64_t vocab = 32;                      // vocab_size: rows of embed_tokens and lm_head
  std::int64_t heads = 2;                       // num_attention_heads (= num_key_value_heads)
  c10::ScalarType dtype = c10::kFloat;          // stored dtype of every tensor
  std::uint64_t seed = 1;                       // tensors are N(0, 1) from this seed
  std::uint64_t max_shard_bytes = 8 * 1024;     // small, so that even tiny models are sharded
  bool tokenizer = true;                        // write tokenizer.json, tokenizer_config.json, special_tokens_map.json
  std::string tokenizer_tag = "";               // written into tokenizer.json so tests can tell tokenizers apart
};

// The tensor names write_random_llama writes, in order.
std::vector<std::string> random_llama_tensor_names(const RandomLlamaOptions& options);

// The config.json write_random_llama writes.
nlohmann::json random_llama_config(const RandomLlamaOptions& options);

// Writes the folder (created; must not exist) and returns its tensors.
NamedTensors write_random_llama(const std::filesystem::path& directory, const RandomLlamaOptions& options = {});

// Writes a text file (a merge config, a tokenizer file) and returns its path.
std::filesystem::path write_text_file(const std::filesystem::path& path, const std::string& text);
// A file's whole contents, byte for byte ("" when it cannot be opened).
std::string read_text_file(const std::filesystem::path& path);

}  // namespace ladle::testing
