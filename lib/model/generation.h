// Text generation with a causal LM: greedy decoding or temperature / nucleus sampling, batched over prompts of
// different lengths with left padding, incremental through a KV cache.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/model/causal_lm.h"

namespace ladle::model {

struct GenerationOptions {
  std::int64_t max_new_tokens = 32;  // tokens generated per prompt at most
  double temperature = 0.0;          // 0: greedy (argmax); > 0: sample from softmax(logits / temperature)
  // Nucleus sampling (Holtzman et al., 2020) when sampling: keep the most probable tokens whose probabilities
  // sum to at least top_p (transformers' TopPLogitsWarper), after temperature. 1 keeps every token.
  double top_p = 1.0;
  std::vector<std::int64_t> stop_token_ids;  // a sequence ends once it generates one of these
  std::uint64_t seed = 0;                    // seeds the sampler (a CPU generator of its own)
  bool use_cache = true;                     // KV cache; false re-runs the whole sequence at every step
  // Ids at or above this are never generated: a model's vocabulary is often padded beyond its tokenizer's (to a
  // multiple of 64, say), and the tokenizer cannot decode the padding rows. 0: every id of the model.
  std::int64_t decodable_vocab_size = 0;
};

// Continues each prompt (token ids, non-empty) and returns only the new tokens, a stop token that ended a
// sequence included as its last token. Prompts are left-padded into one batch with an attention mask, so every
// prompt gets the same tokens as it would alone (up to floating-point rounding). Runs without autograd and
// without changing the model's train/eval mode (call eval() first: dropout applies in training mode).
// Deterministic for a given seed. Throws ladle::Error for invalid options (decodable_vocab_size beyond the
// model's vocabulary included), an empty prompt, a token id outside
// the vocabulary, or prompt + new tokens longer than the model allows.
std::vector<std::vector<std::int64_t>> generate(CausalLm& model, const std::vector<std::vector<std::int64_t>>& prompts,
                                                const GenerationOptions& options = {});

}  // namespace ladle::model
