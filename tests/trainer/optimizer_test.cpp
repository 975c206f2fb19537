// The flat-buffer optimizers against libtorch's own torch::optim::AdamW and SGD (an independent implementation
// of the same update rules), the weight-decay partition, and exact state round trips.
#include "trainer/optimizer.h"

#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "lib/model/causal_lm_factory.h"
#include "lib/weights/flat_parameters.h"
#include "tests/support/tiny_run.h"

namespace ladle::trainer {
namespace {

// A matrix that decays and a vector that does not, with their flat parameters (matrix first).
struct Fixture {
  at::Tensor matrix = at::randn({3, 4}).requires_grad_();
  at::Tensor vector = at::randn({5}).requires_grad_();
  at::Tensor reference_matrix = matrix.detach().clone().requires_grad_(true);
  at::Tensor reference_vector = vector.detach().clone().requires_grad_(true);
  FlatParameters flat{{{"matrix", matrix}, {"vector", vector}}};

  // Gives both copies the same random gradients.
  void set_gradients(int seed) {
    at::manual_seed(seed);
    const at::Tensor g_matrix = at::randn({3, 4}), g_vector = at::randn({5});
    matrix.mutable_grad().copy_(g_matrix);
    vector.mutable_grad().copy_(g_vector);
    reference_matrix.mutable_grad() = g_matrix.clone();
    reference_vector.mutable_grad() = g_vector.clone();
  }
  void expect_equal_to_reference() const {
    EXPECT_TRUE(at::allclose(matrix, reference_matrix, 1e-6, 1e-7));
    EXPECT_TRUE(at::allclose(vector, reference_vector, 1e-6, 1e-7));
  }
};

TEST(FlatOptimizer, AdamWMatchesTorchOptimAdamWWithDecayOnTheMatrixOnly) {
  at::manual_seed(0);
  Fixture f;
  OptimizerConfig config;
  config.lr = 0.01;
  config.betas = {0.8, 0.95};
  config.eps = 1e-6;
  config.weight_decay = 0.3;
  AdamW adamw(config, f.flat, 12);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  const auto options = [&](double decay) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(config.lr).betas({0.8, 0.95}).eps(1e-6).weight_decay(decay));
  };
  groups.emplace_back(std::vector<at::Tensor>{f.reference_matrix}, options(0.3));
  groups.emplace_back(std::vector<at::Tensor>{f.reference_vector}, options(0.0));
  torch::optim::AdamW reference(groups, torch::optim::AdamWOptions(config.lr));
  for (int step = 0; step < 5; ++step) {
    f.set_gradients(step + 1);
    adamw.step();
    reference.step();
  }
  f.expect_equal_to_reference();
  EXPECT_EQ(adamw.steps(), 5);
}

TEST(FlatOptimizer, SgdWithNesterovMomentumMatchesTorchOptimSgd) {
  at::manual_seed(1);
  Fixture f;
  OptimizerConfig config;
  config.name = OptimizerKind::sgd;
  config.lr = 0.05;
  config.momentum = 0.9;
  config.nesterov = true;
  config.weight_decay = 0.1;
  Sgd sgd(config, f.flat, 12);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  const auto options = [&](double decay) {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(config.lr).momentum(0.9).nesterov(true).weight_decay(decay));
  };
  groups.emplace_back(std::vector<at::Tensor>{f.reference_matrix}, options(0.1));
  groups.emplace_back(std::vector<at::Tensor>{f.reference_vector}, options(0.0));
  torch::optim::SGD reference(groups, torch::optim::SGDOptions(config.lr));
  for (int step = 0; step < 5; ++step) {
    f.set_gradients(step + 10);
    sgd.step();
    reference.step();
  }
  f.expect_equal_to_reference();
}

TEST(FlatOptimizer, StateRoundTripsBitForBit) {
  at::manual_seed(2);
  Fixture a;
  OptimizerConfig config;
  config.weight_decay = 0.1;
  AdamW first(config, a.flat, 12);
  for (int step = 0; step < 3; ++step) {
    a.set_gradients(step);
    first.step();
  }
  first.set_learning_rate(0.0123);
  Fixture b;
  b.flat.copy_from(a.flat.snapshot());
  AdamW second(config, b.flat, 12);
  second.load_state(first.state_tensors(), first.state_json());
  EXPECT_EQ(second.steps(), 3);
  EXPECT_EQ(second.learning_rate(), 0.0123);
  a.set_gradients(7);
  b.set_gradients(7);
  first.step();
  second.step();
  EXPECT_TRUE(at::equal(a.flat.groups()[0].values, b.flat.groups()[0].values));
}

TEST(FlatOptimizer, LoadingAnotherOptimizersStateIsRefused) {
  Fixture f;
  OptimizerConfig adamw_config, sgd_config;
  sgd_config.name = OptimizerKind::sgd;
  AdamW adamw(adamw_config, f.flat, 12);
  Sgd sgd(sgd_config, f.flat, 12);
  EXPECT_THROW(sgd.load_state(adamw.state_tensors(), adamw.state_json()), Error);
}

bool holds(const std::vector<std::pair<std::string, at::Tensor>>& list, const std::string& name) {
  return std::any_of(list.begin(), list.end(), [&](const auto& item) { return item.first == name; });
}

TEST(WeightDecayPartition, MatricesAndEmbeddingsDecayNormsDoNot) {
  const auto model = testing::tiny_model();
  const auto partition = weight_decay_partition(*model, /*decay_embeddings=*/true);
  EXPECT_TRUE(holds(partition.decay, "model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(holds(partition.decay, "model.embed_tokens.weight"));
  EXPECT_TRUE(holds(partition.decay, "lm_head.weight"));
  EXPECT_TRUE(holds(partition.no_decay, "model.layers.1.input_layernorm.weight"));
  EXPECT_TRUE(holds(partition.no_decay, "model.norm.weight"));
  const auto without = weight_decay_partition(*model, /*decay_embeddings=*/false);
  EXPECT_TRUE(holds(without.no_decay, "model.embed_tokens.weight"));
  EXPECT_TRUE(holds(without.decay, "lm_head.weight"));
}

TEST(WeightDecayPartition, Gpt2BiasesDoNotDecay) {
  auto config = model::CausalLmConfig::defaults_for("GPT2LMHeadModel");
  config.vocab_size = 50;
  config.hidden_size = 8;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.intermediate_size = 16;
  config.max_position_embeddings = 16;
  const auto partition = weight_decay_partition(*model::create_causal_lm(config, 0), true);
  EXPECT_TRUE(holds(partition.no_decay, "transformer.h.0.attn.c_attn.bias"));
  EXPECT_TRUE(holds(partition.no_decay, "transformer.h.0.ln_1.bias"));
  EXPECT_TRUE(holds(partition.decay, "transformer.h.0.attn.c_attn.weight"));
  EXPECT_TRUE(holds(partition.decay, "transformer.wpe.weight"));
}

}  // namespace
}  // namespace ladle::trainer
