// Forward-pass behaviour beyond the reference comparison: padding, the KV cache, limits and input checks.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <string>

#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"

namespace ladle::model {
namespace {

CausalLmConfig tiny_llama() {
  return CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                    {"vocab_size", 50},
                                    {"hidden_size", 32},
                                    {"intermediate_size", 48},
                                    {"num_hidden_layers", 2},
                                    {"num_attention_heads", 4},
                                    {"num_key_value_heads", 2},
                                    {"max_position_embeddings", 64}});
}

CausalLmConfig tiny_gpt2(double dropout = 0.0) {
  return CausalLmConfig::from_json({{"architectures", {"GPT2LMHeadModel"}},
                                    {"vocab_size", 50},
                                    {"n_embd", 32},
                                    {"n_layer", 2},
                                    {"n_head", 4},
                                    {"n_positions", 16},
                                    {"attn_pdrop", dropout},
                                    {"resid_pdrop", dropout},
                                    {"embd_pdrop", dropout}});
}

// Larger weights than the 0.02 initialisation, so that logits differ visibly between positions.
std::shared_ptr<CausalLm> model_for(const CausalLmConfig& base) {
  CausalLmConfig config = base;
  config.initializer_range = 0.3;
  return create_causal_lm(config, 21);
}

const std::vector<std::int64_t> kTokens = {7, 31, 2, 49, 18, 5};

at::Tensor row(const std::vector<std::int64_t>& values) { return at::tensor(values, at::kLong).unsqueeze(0); }

CausalLmOutput run(CausalLm& model, const at::Tensor& ids, const at::Tensor& mask = {}, KvCache* cache = nullptr) {
  at::NoGradGuard no_grad;
  ForwardOptions options;
  options.attention_mask = mask;
  options.cache = cache;
  return model.forward(ids, options);
}

// The logits of the unpadded tokens equal those of the sequence alone, with padding on either side.
void expect_padding_invariance(CausalLm& model) {
  const at::Tensor alone = run(model, row(kTokens)).logits;
  const at::Tensor left = run(model, row({0, 0, 7, 31, 2, 49, 18, 5}), row({0, 0, 1, 1, 1, 1, 1, 1})).logits;
  const at::Tensor right = run(model, row({7, 31, 2, 49, 18, 5, 0, 0}), row({1, 1, 1, 1, 1, 1, 0, 0})).logits;
  EXPECT_TRUE(at::allclose(left.narrow(1, 2, 6), alone, 0, 1e-5));
  EXPECT_TRUE(at::allclose(right.narrow(1, 0, 6), alone, 0, 1e-5));
}

// Feeding the sequence in pieces through a cache gives the logits of one full pass, padding included.
void expect_cache_matches_full_pass(CausalLm& model) {
  const at::Tensor ids = at::tensor({0, 0, 7, 31, 2, 49, 18, 5, 9, 11, 3, 8, 20, 40, 1, 6}, at::kLong).view({2, 8});
  const at::Tensor mask = at::tensor({0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, at::kLong).view({2, 8});
  const at::Tensor full = run(model, ids, mask).logits;
  KvCache cache;
  const at::Tensor first = run(model, ids.narrow(1, 0, 5), mask.narrow(1, 0, 5), &cache).logits;
  const at::Tensor second = run(model, ids.narrow(1, 5, 1), mask.narrow(1, 5, 1), &cache).logits;
  const at::Tensor third = run(model, ids.narrow(1, 6, 2), {}, &cache).logits;
  EXPECT_EQ(cache.length(), 8);
  const at::Tensor pieces = at::cat({first, second, third}, 1);
  const at::Tensor real = mask.unsqueeze(-1).to(at::kFloat);
  EXPECT_LT(((pieces - full) * real).abs().max().item<double>(), 1e-5);
}

TEST(LlamaForward, PaddingOnEitherSideLeavesTokenLogitsUnchanged) {
  expect_padding_invariance(*model_for(tiny_llama()));
}

TEST(Gpt2Forward, PaddingOnEitherSideLeavesTokenLogitsUnchanged) { expect_padding_invariance(*model_for(tiny_gpt2())); }

TEST(LlamaForward, CachedIncrementalPassMatchesFullPass) { expect_cache_matches_full_pass(*model_for(tiny_llama())); }

TEST(Gpt2Forward, CachedIncrementalPassMatchesFullPass) { expect_cache_matches_full_pass(*model_for(tiny_gpt2())); }

TEST(LlamaForward, HiddenStatesFollowTransformersConvention) {
  auto model = model_for(tiny_llama());
  at::NoGradGuard no_grad;
  ForwardOptions options;
  options.output_hidden_states = true;
  const CausalLmOutput output = model->forward(row(kTokens), options);
  ASSERT_EQ(output.hidden_states.size(), 3u);
  const NamedTensors weights = model->hf_state_dict();
  // The first is the embedding lookup; the logits are the last (normed) one times the output embedding.
  EXPECT_TRUE(at::equal(output.hidden_states[0],
                        weights.at("model.embed_tokens.weight").index_select(0, row(kTokens)[0]).unsqueeze(0)));
  EXPECT_TRUE(
      at::allclose(at::matmul(output.hidden_states[2], weights.at("lm_head.weight").t()), output.logits, 0, 1e-5));
  EXPECT_TRUE(model->forward(row(kTokens)).hidden_states.empty());
}

TEST(Gpt2Forward, SequenceLongerThanPositionTableIsRejected) {
  auto model = model_for(tiny_gpt2());
  const at::Tensor ids = at::zeros({1, 17}, at::kLong);
  try {
    run(*model, ids);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("17 positions exceeds n_positions (16)"), std::string::npos) << e.what();
  }
}

TEST(LlamaForward, MistralSequenceBeyondSlidingWindowIsRejected) {
  CausalLmConfig config = tiny_llama();
  config.architecture = "MistralForCausalLM";
  config.model_type = "mistral";
  config.sliding_window = 4;
  auto model = create_causal_lm(config, 1);
  EXPECT_NO_THROW(run(*model, row({1, 2, 3, 4})));
  try {
    run(*model, row({1, 2, 3, 4, 5}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("5 positions exceeds sliding_window (4)"), std::string::npos) << e.what();
  }
}

// One sliding layer with a window of 3: the logits at position 5 depend on the tokens at positions 3, 4 and 5
// only, as transformers' sliding_window_overlay (key > query − window) has it; changing the token at 2 changes
// nothing there, changing the one at 3 does.
TEST(Gemma3Forward, SlidingWindowSeesExactlyTheLastWindowPositions) {
  auto model = model_for(CausalLmConfig::from_json({{"architectures", {"Gemma3ForCausalLM"}},
                                                    {"vocab_size", 50},
                                                    {"hidden_size", 32},
                                                    {"intermediate_size", 48},
                                                    {"num_hidden_layers", 1},
                                                    {"num_attention_heads", 2},
                                                    {"num_key_value_heads", 1},
                                                    {"head_dim", 16},
                                                    {"sliding_window", 3},
                                                    {"layer_types", {"sliding_attention"}}}));
  const at::Tensor base = run(*model, row(kTokens)).logits[0][5];
  std::vector<std::int64_t> outside = kTokens, inside = kTokens;
  outside[2] = 40;
  inside[3] = 40;
  EXPECT_TRUE(at::equal(run(*model, row(outside)).logits[0][5], base));
  EXPECT_GT((run(*model, row(inside)).logits[0][5] - base).abs().max().item<double>(), 1e-4);
  KvCache cache;  // the cache keeps every position; the window still applies to the new ones
  run(*model, row({7, 31, 40, 49}), {}, &cache);
  EXPECT_TRUE(at::allclose(run(*model, row({18, 5}), {}, &cache).logits[0][1], base, 0, 1e-5));
}

TEST(LlamaForward, InvalidInputsAreRejectedWithClearErrors) {
  auto model = model_for(tiny_llama());
  EXPECT_THROW(run(*model, row({1, 50})), Error);                 // outside the vocabulary
  EXPECT_THROW(run(*model, row({1, -1})), Error);                 // negative id
  EXPECT_THROW(run(*model, at::zeros({4}, at::kLong)), Error);    // not [batch, seq]
  EXPECT_THROW(run(*model, row({1, 2}).to(at::kFloat)), Error);   // not integers
  EXPECT_THROW(run(*model, row({1, 2}), row({1, 1, 1})), Error);  // mask shape
  EXPECT_THROW(run(*model, row({1, 2}), row({1, 2})), Error);     // mask values
  KvCache cache;
  run(*model, row({1, 2}), {}, &cache);
  EXPECT_THROW(run(*model, at::zeros({2, 1}, at::kLong), {}, &cache), Error);  // batch differs from cache
}

TEST(Gpt2Forward, DropoutAppliesInTrainingModeOnly) {
  auto model = create_causal_lm(tiny_gpt2(/*dropout=*/0.1), 3);
  EXPECT_TRUE(at::equal(run(*model, row(kTokens)).logits, run(*model, row(kTokens)).logits));
  model->train();
  EXPECT_FALSE(at::equal(run(*model, row(kTokens)).logits, run(*model, row(kTokens)).logits));
}

TEST(LlamaForward, Bf16ParametersGiveFp32LogitsCloseToFp32Model) {
  auto model = model_for(tiny_llama());
  const at::Tensor fp32 = run(*model, row(kTokens)).logits;
  model->to(at::kBFloat16);
  const at::Tensor bf16 = run(*model, row(kTokens)).logits;
  EXPECT_EQ(bf16.scalar_type(), at::kFloat);
  EXPECT_LT((bf16 - fp32).abs().max().item<double>(), 0.05 * fp32.abs().max().item<double>());
}

// docs/building.md §3: training runs under CPU autocast to bf16 with fp32 master weights.
void expect_bf16_autocast_close_to_fp32(CausalLm& model) {
  const at::Tensor fp32 = run(model, row(kTokens)).logits;
  at::autocast::set_cpu_enabled(true);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  const at::Tensor autocast = run(model, row(kTokens)).logits;
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  EXPECT_EQ(autocast.scalar_type(), at::kFloat);
  EXPECT_LT((autocast - fp32).abs().max().item<double>(), 0.05 * fp32.abs().max().item<double>());
}

TEST(LlamaForward, Bf16AutocastGivesLogitsCloseToFp32) { expect_bf16_autocast_close_to_fp32(*model_for(tiny_llama())); }

TEST(Gpt2Forward, Bf16AutocastGivesLogitsCloseToFp32) { expect_bf16_autocast_close_to_fp32(*model_for(tiny_gpt2())); }

}  // namespace
}  // namespace ladle::model
