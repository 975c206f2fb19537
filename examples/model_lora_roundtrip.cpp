// A tiny Llama from scratch: create, save as a Hugging Face folder, load, generate, then attach a LoRA adapter,
// take a few training steps on a toy sequence, save the adapter in PEFT's format and merge it into plain weights.
//   model_lora_roundtrip OUT_DIR
#include <ATen/ATen.h>
#include <torch/optim/adam.h>

#include <iostream>
#include <vector>

#include "lib/model/causal_lm_factory.h"
#include "lib/model/causal_lm_loss.h"
#include "lib/model/generation.h"
#include "lib/model/lora.h"
#include "lib/util/error.h"

namespace {

namespace model = ladle::model;

void print_tokens(const char* label, const std::vector<std::int64_t>& tokens) {
  std::cout << label;
  for (auto token : tokens) std::cout << ' ' << token;
  std::cout << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: model_lora_roundtrip OUT_DIR\n";
    return 2;
  }
  try {
    const std::filesystem::path out = argv[1];
    model::CausalLmConfig config = model::CausalLmConfig::defaults_for("LlamaForCausalLM");
    config.vocab_size = 64;
    config.hidden_size = 64;
    config.intermediate_size = 128;
    config.num_hidden_layers = 2;
    config.num_attention_heads = 4;
    config.num_key_value_heads = 2;
    config.max_position_embeddings = 128;
    model::save_causal_lm(*model::create_causal_lm(config, /*seed=*/0), out / "base");
    auto lm = model::load_causal_lm(out / "base");

    const std::vector<std::int64_t> pattern = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    model::GenerationOptions generation;
    generation.max_new_tokens = 8;
    print_tokens("base continues 1 2 3 4 with:", model::generate(*lm, {{1, 2, 3, 4}}, generation)[0]);

    model::LoraOptions lora;
    lora.target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"};
    model::add_lora_adapters(*lm, lora);
    std::vector<at::Tensor> trainable;  // exactly the adapters: add_lora_adapters froze the rest
    for (const auto& parameter : lm->parameters()) {
      if (parameter.requires_grad()) trainable.push_back(parameter);
    }
    torch::optim::Adam optimizer(trainable, torch::optim::AdamOptions(1e-2));
    const at::Tensor ids = at::tensor(pattern, at::kLong).unsqueeze(0);
    lm->train();
    for (int step = 0; step < 100; ++step) {
      optimizer.zero_grad();
      const at::Tensor loss = model::causal_lm_loss(lm->forward(ids).logits, ids);
      loss.backward();
      optimizer.step();
      if (step % 25 == 0) std::cout << "step " << step << " loss " << loss.item<double>() << '\n';
    }
    lm->eval();
    print_tokens("adapted continues 1 2 3 4 with:", model::generate(*lm, {{1, 2, 3, 4}}, generation)[0]);

    model::save_lora_adapter(model::lora_adapter(*lm, (out / "base").string()), out / "adapter");
    model::merge_lora_into_base(*lm);
    model::save_causal_lm(*lm, out / "merged");
    std::cout << "wrote " << (out / "base").string() << ", " << (out / "adapter").string() << " (PEFT) and "
              << (out / "merged").string() << '\n';
  } catch (const ladle::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
