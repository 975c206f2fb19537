// FlatParameters: parameters and gradients as views into flat buffers, checked against an identical model that
// is not flattened (the reference), trained with the same libtorch optimizers.
#include "lib/weights/flat_parameters.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <string>

#include "lib/util/error.h"
#include "lib/weights/tensor_ops.h"

namespace ladle {
namespace {

struct TwoLayerImpl : torch::nn::Module {
  TwoLayerImpl()
      : fc1(register_module("fc1", torch::nn::Linear(4, 8))), fc2(register_module("fc2", torch::nn::Linear(8, 3))) {}
  at::Tensor forward(const at::Tensor& x) { return fc2(at::tanh(fc1(x))); }
  torch::nn::Linear fc1;
  torch::nn::Linear fc2;
};
TORCH_MODULE(TwoLayer);

// Two models with identical initial weights: one to flatten, one left alone as the reference.
class FlatParametersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(11);
    model_ = TwoLayer();
    at::manual_seed(11);
    reference_ = TwoLayer();
    at::manual_seed(12);
    inputs_ = at::randn({5, 4});
    targets_ = at::randn({5, 3});
  }

  at::Tensor loss(TwoLayer& model) { return (model->forward(inputs_) - targets_).pow(2).mean(); }

  void train_step(TwoLayer& model, torch::optim::Optimizer& optimizer) {
    optimizer.zero_grad();
    loss(model).backward();
    optimizer.step();
  }

  // True when every parameter of the flattened model equals the reference's, bit for bit.
  bool matches_reference() {
    const auto flat = model_->named_parameters();
    const auto reference = reference_->named_parameters();
    for (const auto& item : reference) {
      if (!at::equal(flat[item.key()], item.value())) return false;
    }
    return true;
  }

  TwoLayer model_{nullptr};
  TwoLayer reference_{nullptr};
  at::Tensor inputs_;
  at::Tensor targets_;
};

TEST_F(FlatParametersTest, ParametersKeepTheirValuesAndBecomeViewsOfTheBuffer) {
  FlatParameters flat(*model_);
  ASSERT_TRUE(matches_reference());
  const FlatParameterGroup& group = flat.groups().at(0);
  for (const auto& slot : group.slots) {
    const at::Tensor parameter = model_->named_parameters()[slot.name];
    EXPECT_EQ(parameter.data_ptr<float>(), group.values.data_ptr<float>() + slot.offset) << slot.name;
  }
  at::NoGradGuard no_grad;
  group.values.fill_(0.5);
  for (const auto& parameter : model_->parameters()) EXPECT_TRUE(at::equal(parameter, at::full_like(parameter, 0.5)));
}

TEST_F(FlatParametersTest, WritingAParameterInPlaceChangesTheBuffer) {
  FlatParameters flat(*model_);
  {
    at::NoGradGuard no_grad;
    model_->fc2->bias.fill_(3.0);
  }
  EXPECT_TRUE(at::equal(flat.view_of("fc2.bias"), at::full({3}, 3.0f)));
}

TEST_F(FlatParametersTest, SgdCreatedBeforeFlatteningStepsThroughTheBuffer) {
  const auto options = torch::optim::SGDOptions(0.1).momentum(0.9);
  torch::optim::SGD optimizer(model_->parameters(), options);
  torch::optim::SGD reference_optimizer(reference_->parameters(), options);
  FlatParameters flat(*model_);
  const at::Tensor before = flat.groups()[0].values.clone();
  for (int step = 0; step < 3; ++step) {
    train_step(model_, optimizer);
    train_step(reference_, reference_optimizer);
  }
  EXPECT_TRUE(matches_reference());
  EXPECT_TRUE(flat.parameters_bound());
  EXPECT_FALSE(at::equal(flat.groups()[0].values, before));
  EXPECT_TRUE(at::equal(flat.view_of("fc1.weight"), model_->fc1->weight));
}

TEST_F(FlatParametersTest, AdamWCreatedAfterFlatteningMatchesUnflattenedModel) {
  FlatParameters flat(*model_);
  const auto options = torch::optim::AdamWOptions(0.01).weight_decay(0.1);
  torch::optim::AdamW optimizer(model_->parameters(), options);
  torch::optim::AdamW reference_optimizer(reference_->parameters(), options);
  for (int step = 0; step < 5; ++step) {
    train_step(model_, optimizer);
    train_step(reference_, reference_optimizer);
  }
  EXPECT_TRUE(matches_reference());
  EXPECT_TRUE(flat.parameters_bound());
  EXPECT_TRUE(at::equal(flat.view_of("fc2.weight"), model_->fc2->weight));
}

TEST_F(FlatParametersTest, BackwardFillsTheFlatGradientBuffer) {
  FlatParameters flat(*model_);
  loss(model_).backward();
  loss(reference_).backward();
  const FlatParameterGroup& group = flat.groups().at(0);
  for (const auto& slot : group.slots) {
    const at::Tensor expected = reference_->named_parameters()[slot.name].grad();
    EXPECT_TRUE(at::equal(group.gradients.narrow(0, slot.offset, slot.numel).view(slot.shape), expected)) << slot.name;
  }
}

// libtorch 1.13's Optimizer::zero_grad() calls detach_() then zero_() on each .grad: detach_() throws for autograd
// views, and zero_() keeps the gradient in the buffer.
TEST_F(FlatParametersTest, OptimizerZeroGradKeepsGradientsBound) {
  FlatParameters flat(*model_);
  torch::optim::SGD optimizer(model_->parameters(), torch::optim::SGDOptions(0.1));
  for (int step = 0; step < 3; ++step) {
    train_step(model_, optimizer);
    EXPECT_TRUE(flat.gradients_bound()) << "step " << step;
  }
  optimizer.zero_grad();
  EXPECT_EQ(flat.groups()[0].gradients.abs().max().item<float>(), 0.0f);
}

TEST_F(FlatParametersTest, ModuleZeroGradKeepsGradientsBound) {
  FlatParameters flat(*model_);
  loss(model_).backward();
  model_->zero_grad();
  EXPECT_TRUE(flat.gradients_bound());
  EXPECT_EQ(flat.groups()[0].gradients.abs().max().item<float>(), 0.0f);
  loss(model_).backward();
  EXPECT_GT(flat.groups()[0].gradients.abs().max().item<float>(), 0.0f);
}

TEST_F(FlatParametersTest, SetToNoneUnbindsGradientsAndFlatZeroGradRebindsThem) {
  FlatParameters flat(*model_);
  model_->zero_grad(/*set_to_none=*/true);
  loss(model_).backward();
  EXPECT_FALSE(flat.gradients_bound());
  EXPECT_EQ(flat.groups()[0].gradients.abs().max().item<float>(), 0.0f);

  flat.zero_grad();
  EXPECT_TRUE(flat.gradients_bound());
  for (const auto& parameter : model_->parameters()) EXPECT_EQ(parameter.grad().abs().max().item<float>(), 0.0f);
  loss(model_).backward();
  loss(reference_).backward();
  EXPECT_TRUE(at::equal(flat.groups()[0].gradients.narrow(0, 0, 32).view({8, 4}), reference_->fc1->weight.grad()));
}

TEST_F(FlatParametersTest, ExistingGradientIsCopiedIntoTheBuffer) {
  loss(model_).backward();
  const at::Tensor gradient = model_->fc1->bias.grad().clone();
  FlatParameters flat(*model_);
  EXPECT_TRUE(at::equal(model_->fc1->bias.grad(), gradient));
  EXPECT_TRUE(flat.gradients_bound());
}

TEST_F(FlatParametersTest, SlotsTileTheBufferInParameterOrder) {
  FlatParameters flat(*model_);
  std::vector<std::string> module_names;
  for (const auto& item : model_->named_parameters()) module_names.push_back(item.key());
  EXPECT_EQ(flat.names(), module_names);
  ASSERT_EQ(flat.groups().size(), 1u);
  const FlatParameterGroup& group = flat.groups()[0];
  std::int64_t next = 0;
  for (const auto& slot : group.slots) {
    EXPECT_EQ(slot.offset, next) << slot.name;
    EXPECT_EQ(slot.numel, model_->named_parameters()[slot.name].numel()) << slot.name;
    next += slot.numel;
  }
  EXPECT_EQ(next, group.values.numel());
  EXPECT_EQ(next, group.gradients.numel());
  EXPECT_EQ(flat.numel(), 4 * 8 + 8 + 8 * 3 + 3);
}

TEST(FlatParameters, MixedDtypesMakeSeparateGroupsInOrderOfAppearance) {
  const auto trainable = [](at::Tensor t) { return t.requires_grad_(true); };
  FlatParameters flat({{"a", trainable(at::zeros({2}))},
                       {"b", trainable(at::zeros({3}, at::kDouble))},
                       {"c", trainable(at::zeros({4}, at::kBFloat16))},
                       {"d", trainable(at::zeros({5}))}});
  ASSERT_EQ(flat.groups().size(), 3u);
  EXPECT_EQ(flat.groups()[0].dtype, at::kFloat);
  EXPECT_EQ(flat.groups()[1].dtype, at::kDouble);
  EXPECT_EQ(flat.groups()[2].dtype, at::kBFloat16);
  EXPECT_EQ(flat.groups()[0].values.numel(), 7);
  EXPECT_EQ(flat.groups()[0].slots[1].name, "d");
  EXPECT_EQ(flat.groups()[0].slots[1].offset, 2);
  EXPECT_EQ(flat.groups()[2].values.scalar_type(), at::kBFloat16);
}

TEST_F(FlatParametersTest, FrozenParametersAreExcludedByDefault) {
  model_->fc1->bias.requires_grad_(false);
  FlatParameters flat(*model_);
  EXPECT_EQ(flat.names(), (std::vector<std::string>{"fc1.weight", "fc2.weight", "fc2.bias"}));
  EXPECT_THROW(flat.view_of("fc1.bias"), Error);
}

TEST_F(FlatParametersTest, IncludeFrozenFlattensThemWithoutAGradient) {
  model_->fc1->bias.requires_grad_(false);
  FlatParametersOptions options;
  options.include_frozen = true;
  FlatParameters flat(*model_, options);
  EXPECT_EQ(flat.names().size(), 4u);
  EXPECT_TRUE(at::equal(flat.view_of("fc1.bias"), model_->fc1->bias));
  EXPECT_FALSE(model_->fc1->bias.grad().defined());
}

TEST(FlatParameters, TiedParameterIsFlattenedOnceUnderItsFirstName) {
  const at::Tensor shared = at::ones({3}).requires_grad_(true);
  FlatParameters flat({{"embedding", shared}, {"lm_head", shared}});
  EXPECT_EQ(flat.names(), std::vector<std::string>{"embedding"});
  EXPECT_EQ(flat.numel(), 3);
}

TEST(FlatParameters, NoTrainableParametersThrows) {
  try {
    FlatParameters flat({{"frozen", at::ones({3})}});
    FAIL() << "expected ladle::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("1 frozen parameters excluded"), std::string::npos) << error.what();
  }
}

TEST_F(FlatParametersTest, SnapshotDoesNotAliasTheBuffer) {
  FlatParameters flat(*model_);
  const NamedTensors snapshot = flat.snapshot();
  {
    at::NoGradGuard no_grad;
    flat.groups()[0].values.zero_();
  }
  EXPECT_TRUE(at::equal(snapshot.at("fc1.weight"), reference_->fc1->weight));
}

TEST_F(FlatParametersTest, CopyFromWritesEveryParameter) {
  FlatParameters flat(*model_);
  NamedTensors values;
  for (const auto& item : reference_->named_parameters()) values.insert(item.key(), at::ones_like(item.value()) * 2);
  flat.copy_from(values);
  for (const auto& parameter : model_->parameters()) EXPECT_TRUE(at::equal(parameter, at::full_like(parameter, 2)));
}

TEST_F(FlatParametersTest, CopyFromRejectsMissingNameNamingIt) {
  FlatParameters flat(*model_);
  NamedTensors values = flat.snapshot();
  NamedTensors partial;
  for (const auto& [name, tensor] : values) {
    if (name != "fc2.bias") partial.insert(name, tensor);
  }
  try {
    flat.copy_from(partial);
    FAIL() << "expected ladle::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'fc2.bias'"), std::string::npos) << error.what();
  }
}

// A parameter saved for backward and then overwritten through the buffer must not give silently wrong gradients.
TEST_F(FlatParametersTest, CopyFromIsSeenByAutogradsVersionCheck) {
  FlatParameters flat(*model_);
  const at::Tensor pending = loss(model_);
  flat.copy_from(flat.snapshot());
  EXPECT_ANY_THROW(pending.backward());
}

TEST_F(FlatParametersTest, CopyFromFlatSwapsInAnEmaAverage) {
  FlatParameters flat(*model_);
  at::Tensor average = flat.groups()[0].values.clone();
  ema_update_(average, at::zeros_like(average), 0.5);
  flat.copy_from_flat({average});
  EXPECT_TRUE(at::equal(model_->fc1->weight, reference_->fc1->weight * 0.5));
  EXPECT_TRUE(at::equal(model_->fc2->bias, reference_->fc2->bias * 0.5));
}

TEST_F(FlatParametersTest, CopyFromFlatRejectsWrongLength) {
  FlatParameters flat(*model_);
  EXPECT_THROW(flat.copy_from_flat({at::zeros({3})}), Error);
  EXPECT_THROW(flat.copy_from_flat({}), Error);
}

}  // namespace
}  // namespace ladle
