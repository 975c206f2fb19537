// Next-token loss: the shift, ignore_index, per-sequence sums, and independence from padding.
#include "lib/model/causal_lm_loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"

namespace ladle::model {
namespace {

// −log softmax(z)[k] for a 2-way softmax, by hand.
double nll2(double z0, double z1, int k) {
  const double log_sum = std::log(std::exp(z0) + std::exp(z1));
  return log_sum - (k == 0 ? z0 : z1);
}

// One sequence of 4 positions over a vocabulary of 2.
at::Tensor tiny_logits() { return at::tensor({0.5, -1.0, 2.0, 0.0, -0.5, 1.5, 3.0, 3.0}).view({1, 4, 2}); }

TEST(CausalLmLoss, PositionPredictsNextLabelAndIgnoreIndexMasksTargets) {
  // Targets are labels[1:] = {1, −100, 0}: position 0 predicts 1, position 1 is ignored, position 2 predicts 0;
  // the last position predicts nothing.
  const at::Tensor labels = at::tensor({1, 1, -100, 0}, at::kLong).view({1, 4});
  const double expected = (nll2(0.5, -1.0, 1) + nll2(-0.5, 1.5, 0)) / 2;
  EXPECT_NEAR(causal_lm_loss(tiny_logits(), labels).item<double>(), expected, 1e-6);
}

TEST(CausalLmLoss, MeanIsOverTargetsOfTheWholeBatch) {
  const at::Tensor logits = at::cat({tiny_logits(), tiny_logits().flip(2)}, 0);
  const at::Tensor labels = at::tensor({0, 1, -100, -100, 0, 0, 1, 1}, at::kLong).view({2, 4});
  // Sequence 0: one target; sequence 1: three. Flipping the logits swaps the two classes.
  const double sequence0 = nll2(0.5, -1.0, 1);
  const double sequence1 = nll2(-1.0, 0.5, 0) + nll2(0.0, 2.0, 1) + nll2(1.5, -0.5, 1);
  EXPECT_NEAR(causal_lm_loss(logits, labels).item<double>(), (sequence0 + sequence1) / 4, 1e-6);
  const SequenceLoss totals = causal_lm_sequence_loss(logits, labels);
  EXPECT_NEAR(totals.loss_sum[0].item<double>(), sequence0, 1e-6);
  EXPECT_NEAR(totals.loss_sum[1].item<double>(), sequence1, 1e-6);
  EXPECT_EQ(totals.token_count[0].item<std::int64_t>(), 1);
  EXPECT_EQ(totals.token_count[1].item<std::int64_t>(), 3);
}

TEST(CausalLmLoss, CustomIgnoreIndexAndNoTargetsGiveNaN) {
  const at::Tensor labels = at::tensor({1, -1, -1, -1}, at::kLong).view({1, 4});
  EXPECT_TRUE(std::isnan(causal_lm_loss(tiny_logits(), labels, -1).item<double>()));
  EXPECT_EQ(causal_lm_sequence_loss(tiny_logits(), labels, -1).token_count[0].item<std::int64_t>(), 0);
}

TEST(CausalLmLoss, InvalidLabelsAreRejected) {
  EXPECT_THROW(causal_lm_loss(tiny_logits(), at::tensor({0, 2, 0, 0}, at::kLong).view({1, 4})), Error);
  EXPECT_THROW(causal_lm_loss(tiny_logits(), at::tensor({0, 1, 0}, at::kLong).view({1, 3})), Error);
  EXPECT_THROW(causal_lm_loss(tiny_logits(), at::zeros({1, 4}, at::kFloat)), Error);
}

// Padding carries label −100 and the mask drops what padding predicts, so a padded sequence has the loss of
// the sequence alone.
void expect_padding_leaves_sequence_loss_unchanged(const CausalLmConfig& base) {
  CausalLmConfig config = base;
  config.initializer_range = 0.3;
  auto model = create_causal_lm(config, 5);
  at::NoGradGuard no_grad;
  const at::Tensor alone = at::tensor({4, 8, 15, 16, 23, 42}, at::kLong).view({1, 6});
  const at::Tensor padded =
      at::tensor({0, 0, 4, 8, 15, 16, 23, 42, 4, 8, 15, 16, 23, 42, 0, 0}, at::kLong).view({2, 8});
  const at::Tensor mask = at::tensor({0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, at::kLong).view({2, 8});
  const at::Tensor labels = padded.masked_fill(mask == 0, kIgnoreIndex);
  const SequenceLoss expected = causal_lm_sequence_loss(model->forward(alone).logits, alone);
  ForwardOptions options;
  options.attention_mask = mask;
  const at::Tensor padded_logits = model->forward(padded, options).logits;
  const SequenceLoss actual = causal_lm_sequence_loss(padded_logits, labels, kIgnoreIndex, mask);
  EXPECT_EQ(actual.token_count[0].item<std::int64_t>(), 5);
  EXPECT_EQ(actual.token_count[1].item<std::int64_t>(), 5);
  EXPECT_NEAR(actual.loss_sum[0].item<double>(), expected.loss_sum[0].item<double>(), 1e-4);  // left padding
  EXPECT_NEAR(actual.loss_sum[1].item<double>(), expected.loss_sum[0].item<double>(), 1e-4);  // right padding
  // Without the mask, the padding before the left-padded sequence also predicts its first token.
  EXPECT_EQ(causal_lm_sequence_loss(padded_logits, labels).token_count[0].item<std::int64_t>(), 6);
  EXPECT_NEAR(causal_lm_sequence_loss(padded_logits, labels).loss_sum[1].item<double>(),
              expected.loss_sum[0].item<double>(), 1e-4);
}

TEST(CausalLmLoss, LlamaPaddingLeavesSequenceLossUnchanged) {
  expect_padding_leaves_sequence_loss_unchanged(CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                                                           {"vocab_size", 50},
                                                                           {"hidden_size", 32},
                                                                           {"intermediate_size", 48},
                                                                           {"num_hidden_layers", 2},
                                                                           {"num_attention_heads", 4},
                                                                           {"num_key_value_heads", 1}}));
}

TEST(CausalLmLoss, Gpt2PaddingLeavesSequenceLossUnchanged) {
  expect_padding_leaves_sequence_loss_unchanged(CausalLmConfig::from_json({{"architectures", {"GPT2LMHeadModel"}},
                                                                           {"vocab_size", 50},
                                                                           {"n_embd", 32},
                                                                           {"n_layer", 2},
                                                                           {"n_head", 4},
                                                                           {"n_positions", 16},
                                                                           {"attn_pdrop", 0.0},
                                                                           {"resid_pdrop", 0.0},
                                                                           {"embd_pdrop", 0.0}}));
}

TEST(CausalLmLoss, GradientReachesLogits) {
  const at::Tensor logits = tiny_logits().requires_grad_(true);
  causal_lm_loss(logits, at::tensor({1, 1, -100, 0}, at::kLong).view({1, 4})).backward();
  const at::Tensor grad = logits.grad();
  // Ignored target (position 1) and the last position get no gradient.
  EXPECT_TRUE(at::equal(grad[0][1], at::zeros({2})));
  EXPECT_TRUE(at::equal(grad[0][3], at::zeros({2})));
  EXPECT_GT(grad[0][0].abs().sum().item<double>(), 0);
}

}  // namespace
}  // namespace ladle::model
