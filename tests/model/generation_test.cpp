// Generation: the cache changes nothing, batching changes nothing, stop tokens stop, sampling is seeded.
#include "lib/model/generation.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"

namespace ladle::model {
namespace {

using Tokens = std::vector<std::vector<std::int64_t>>;

std::shared_ptr<CausalLm> tiny_model(bool gpt2) {
  CausalLmConfig config = gpt2 ? CausalLmConfig::from_json({{"architectures", {"GPT2LMHeadModel"}},
                                                            {"vocab_size", 64},
                                                            {"n_embd", 32},
                                                            {"n_layer", 2},
                                                            {"n_head", 4},
                                                            {"n_positions", 64}})
                               : CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                                            {"vocab_size", 64},
                                                            {"hidden_size", 32},
                                                            {"intermediate_size", 48},
                                                            {"num_hidden_layers", 2},
                                                            {"num_attention_heads", 4},
                                                            {"num_key_value_heads", 2}});
  config.initializer_range = 0.3;  // sharper distributions than the 0.02 initialisation
  return create_causal_lm(config, 17);
}

const Tokens kPrompts = {{5, 9, 13}, {40}, {1, 2, 3, 4, 5, 6}};

// Greedy continuation by re-running the whole sequence alone and taking the argmax: independent of batching,
// padding and the cache.
std::vector<std::int64_t> greedy_by_hand(CausalLm& model, std::vector<std::int64_t> sequence, int steps) {
  at::NoGradGuard no_grad;
  std::vector<std::int64_t> generated;
  for (int i = 0; i < steps; ++i) {
    const at::Tensor ids = at::tensor(sequence, at::kLong).unsqueeze(0);
    const std::int64_t next = model.forward(ids).logits[0][-1].argmax().item<std::int64_t>();
    generated.push_back(next);
    sequence.push_back(next);
  }
  return generated;
}

void expect_cache_and_batching_change_nothing(CausalLm& model) {
  GenerationOptions options;
  options.max_new_tokens = 8;
  const Tokens cached = generate(model, kPrompts, options);
  options.use_cache = false;
  const Tokens uncached = generate(model, kPrompts, options);
  EXPECT_EQ(cached, uncached);
  for (std::size_t i = 0; i < kPrompts.size(); ++i) EXPECT_EQ(cached[i], greedy_by_hand(model, kPrompts[i], 8)) << i;
}

TEST(LlamaGeneration, GreedyWithAndWithoutCacheMatchesUnbatchedArgmax) {
  expect_cache_and_batching_change_nothing(*tiny_model(/*gpt2=*/false));
}

TEST(Gpt2Generation, GreedyWithAndWithoutCacheMatchesUnbatchedArgmax) {
  expect_cache_and_batching_change_nothing(*tiny_model(/*gpt2=*/true));
}

TEST(Generation, StopTokenEndsOnlyItsSequenceAndIsIncluded) {
  auto model = tiny_model(/*gpt2=*/false);
  GenerationOptions options;
  options.max_new_tokens = 6;
  const Tokens free_running = generate(*model, kPrompts, options);
  // Stop on the third token of sequence 0, provided it is not generated earlier by sequence 0.
  const std::int64_t stop = free_running[0][2];
  ASSERT_NE(free_running[0][0], stop);
  ASSERT_NE(free_running[0][1], stop);
  options.stop_token_ids = {stop};
  const Tokens stopped = generate(*model, kPrompts, options);
  EXPECT_EQ(stopped[0], std::vector<std::int64_t>(free_running[0].begin(), free_running[0].begin() + 3));
  for (std::size_t i = 1; i < kPrompts.size(); ++i) {
    const auto& full = free_running[i];
    const auto end = std::find(full.begin(), full.end(), stop);
    EXPECT_EQ(stopped[i], std::vector<std::int64_t>(full.begin(), end == full.end() ? end : end + 1)) << i;
  }
}

TEST(Generation, SeededSamplingIsReproducible) {
  auto model = tiny_model(/*gpt2=*/true);
  GenerationOptions options;
  options.max_new_tokens = 12;
  options.temperature = 1.5;
  options.top_p = 0.9;
  options.seed = 3;
  const Tokens first = generate(*model, kPrompts, options);
  EXPECT_EQ(generate(*model, kPrompts, options), first);
  options.seed = 4;
  EXPECT_NE(generate(*model, kPrompts, options), first);
}

TEST(Generation, TinyTopPSamplesTheMostProbableToken) {
  auto model = tiny_model(/*gpt2=*/false);
  GenerationOptions options;
  options.max_new_tokens = 8;
  const Tokens greedy = generate(*model, kPrompts, options);
  options.temperature = 1.0;
  options.top_p = 1e-6;
  EXPECT_EQ(generate(*model, kPrompts, options), greedy);
}

TEST(Generation, ZeroNewTokensGivesEmptyContinuations) {
  GenerationOptions options;
  options.max_new_tokens = 0;
  EXPECT_EQ(generate(*tiny_model(/*gpt2=*/false), kPrompts, options), Tokens(3));
}

// A model whose vocabulary is padded beyond its tokenizer's: with the largest id greedy generation picks declared
// undecodable, only ids below decodable_vocab_size come out, greedy or sampled, and greedy picks the argmax over the
// decodable logits (checked by hand on the whole sequence).
TEST(Generation, IdsPastTheDecodableVocabularyAreNeverGenerated) {
  auto model = tiny_model(/*gpt2=*/false);
  GenerationOptions options;
  options.max_new_tokens = 6;
  std::int64_t largest = 0;
  for (const auto& free_running : generate(*model, kPrompts, options)) {
    largest = std::max(largest, *std::max_element(free_running.begin(), free_running.end()));
  }
  ASSERT_GT(largest, 0);
  options.decodable_vocab_size = largest;
  const Tokens greedy = generate(*model, kPrompts, options);
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < kPrompts.size(); ++i) {
    std::vector<std::int64_t> sequence = kPrompts[i];
    for (const std::int64_t token : greedy[i]) {
      const at::Tensor logits = model->forward(at::tensor(sequence, at::kLong).unsqueeze(0)).logits[0][-1];
      EXPECT_EQ(token, logits.narrow(0, 0, largest).argmax().item<std::int64_t>()) << i;
      sequence.push_back(token);
    }
  }
  options.temperature = 5.0;  // flat: every id has a fair chance
  options.max_new_tokens = 20;
  for (const auto& sampled : generate(*model, kPrompts, options)) {
    for (const std::int64_t token : sampled) EXPECT_LT(token, largest);
  }
}

TEST(Generation, InvalidRequestsAreRejected) {
  auto model = tiny_model(/*gpt2=*/true);
  GenerationOptions options;
  EXPECT_THROW(generate(*model, {}, options), Error);
  EXPECT_THROW(generate(*model, {{1}, {}}, options), Error);
  EXPECT_THROW(generate(*model, {{64}}, options), Error);
  options.decodable_vocab_size = 65;  // beyond the model's 64 ids
  EXPECT_THROW(generate(*model, kPrompts, options), Error);
  options.decodable_vocab_size = 0;
  options.top_p = 0;
  EXPECT_THROW(generate(*model, kPrompts, options), Error);
  options.top_p = 1;
  options.temperature = -1;
  EXPECT_THROW(generate(*model, kPrompts, options), Error);
  options.temperature = 0;
  options.max_new_tokens = 64;  // 6-token prompt + 63 fed tokens > n_positions 64
  EXPECT_THROW(generate(*model, kPrompts, options), Error);
}

}  // namespace
}  // namespace ladle::model
