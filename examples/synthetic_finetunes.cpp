// Writes a Llama-shaped base model and N perturbed copies ("fine-tunes") as sharded Hugging Face folders:
// data for the weight-averaging demo and a quick way to get realistic tensor names, shapes and shard layouts.
//   synthetic_finetunes OUT_DIR [N=3] [HIDDEN=256] [LAYERS=4] [VOCAB=4000]
// Folders: OUT_DIR/base, OUT_DIR/finetune-1 ... Each fine-tune is base + 0.01 * N(0, 1) noise, seeded by its index.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>

#include "lib/io/checkpoint_writer.h"
#include "lib/util/error.h"
#include "lib/weights/named_tensors.h"

namespace {

struct LlamaShape {
  std::int64_t hidden = 256;
  std::int64_t layers = 4;
  std::int64_t vocab = 4000;
  std::int64_t intermediate() const { return hidden * 8 / 3 / 64 * 64 + 64; }
};

nlohmann::json llama_config(const LlamaShape& shape) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", shape.hidden},
          {"intermediate_size", shape.intermediate()},
          {"num_hidden_layers", shape.layers},
          {"num_attention_heads", shape.hidden / 64},
          {"num_key_value_heads", shape.hidden / 64},
          {"vocab_size", shape.vocab},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"tie_word_embeddings", false},
          {"torch_dtype", "float32"}};
}

// Hugging Face LlamaForCausalLM tensor names and [out, in] shapes, initialised N(0, 0.02) as HF does.
ladle::NamedTensors llama_weights(const LlamaShape& shape, std::uint64_t seed) {
  at::manual_seed(seed);
  const auto h = shape.hidden, f = shape.intermediate();
  ladle::NamedTensors weights;
  auto normal = [](std::int64_t rows, std::int64_t cols) { return at::randn({rows, cols}) * 0.02; };
  weights.insert("model.embed_tokens.weight", normal(shape.vocab, h));
  for (std::int64_t layer = 0; layer < shape.layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    for (const char* projection : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      weights.insert(prefix + "self_attn." + projection + ".weight", normal(h, h));
    }
    weights.insert(prefix + "mlp.gate_proj.weight", normal(f, h));
    weights.insert(prefix + "mlp.up_proj.weight", normal(f, h));
    weights.insert(prefix + "mlp.down_proj.weight", normal(h, f));
    weights.insert(prefix + "input_layernorm.weight", at::ones({h}));
    weights.insert(prefix + "post_attention_layernorm.weight", at::ones({h}));
  }
  weights.insert("model.norm.weight", at::ones({h}));
  weights.insert("lm_head.weight", normal(shape.vocab, h));
  return weights;
}

ladle::NamedTensors perturbed(const ladle::NamedTensors& base, std::uint64_t seed) {
  at::manual_seed(seed);
  ladle::NamedTensors copy;
  for (const auto& [name, tensor] : base) copy.insert(name, tensor + 0.01 * at::randn_like(tensor));
  return copy;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 6) {
    std::cerr << "usage: synthetic_finetunes OUT_DIR [N=3] [HIDDEN=256] [LAYERS=4] [VOCAB=4000]\n";
    return 2;
  }
  try {
    const std::string out = argv[1];
    const int count = argc > 2 ? std::stoi(argv[2]) : 3;
    LlamaShape shape;
    if (argc > 3) shape.hidden = std::stoll(argv[3]);
    if (argc > 4) shape.layers = std::stoll(argv[4]);
    if (argc > 5) shape.vocab = std::stoll(argv[5]);
    if (shape.hidden % 64 != 0) throw ladle::Error("HIDDEN must be a multiple of 64 (the head size)");
    ladle::io::CheckpointWriteOptions options;
    options.max_shard_bytes = 8ull << 20;  // small shards, so the demo exercises the sharded layout
    options.overwrite = true;
    const auto base = llama_weights(shape, 0);
    ladle::io::save_checkpoint(out + "/base", base, llama_config(shape), options);
    for (int i = 1; i <= count; ++i) {
      ladle::io::save_checkpoint(out + "/finetune-" + std::to_string(i), perturbed(base, i), llama_config(shape),
                                 options);
    }
    std::cout << "wrote " << out << "/base and " << count << " fine-tunes of " << base.numel()
              << " parameters each\n";
  } catch (const std::exception& error) {
    std::cerr << "synthetic_finetunes: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
