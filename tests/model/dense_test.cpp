// dense (lib/model/dense.h) against ATen's at::linear as the reference: outputs and gradients, for both weight
// layouts, with create_graph, under bf16 autocast, and onednn_matmul on every operand layout.
#include "lib/model/dense.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <vector>

namespace ladle::model {
namespace {

using torch::autograd::grad;

// The gradients of Σ (y ⊙ probe) with respect to `inputs`, y = f(inputs).
template <typename F>
std::vector<at::Tensor> gradients(F f, const std::vector<at::Tensor>& inputs, const at::Tensor& probe) {
  const at::Tensor y = f();
  return grad({(y * probe).sum()}, inputs);
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(at::allclose(actual, expected, 1e-5, 1e-5)) << (actual - expected).abs().max().item<float>();
}

TEST(Dense, OnednnSgemmIsFoundWithDebiansLibtorch) { EXPECT_TRUE(onednn_sgemm_available()); }

TEST(Dense, MatchesAtLinearAndItsGradientsOnABatchOfSequences) {
  at::manual_seed(1);
  const at::Tensor x = at::randn({3, 5, 16}).requires_grad_(), weight = at::randn({7, 16}).requires_grad_(),
                   bias = at::randn({7}).requires_grad_(), probe = at::randn({3, 5, 7});
  expect_close(dense(x, weight, bias), at::linear(x, weight, bias));
  const auto actual = gradients([&] { return dense(x, weight, bias); }, {x, weight, bias}, probe);
  const auto expected = gradients([&] { return at::linear(x, weight, bias); }, {x, weight, bias}, probe);
  for (std::size_t i = 0; i < actual.size(); ++i) expect_close(actual[i], expected[i]);
}

TEST(Dense, ReadsATransposedWeightAsGpt2Conv1dStoresIt) {
  at::manual_seed(2);
  const at::Tensor stored = at::randn({16, 7}).requires_grad_();  // [in, out], used as stored.t()
  const at::Tensor x = at::randn({4, 16}).requires_grad_(), probe = at::randn({4, 7});
  expect_close(dense(x, stored.t()), at::linear(x, stored.t()));
  const auto actual = gradients([&] { return dense(x, stored.t()); }, {x, stored}, probe);
  const auto expected = gradients([&] { return at::linear(x, stored.t()); }, {x, stored}, probe);
  expect_close(actual[0], expected[0]);
  expect_close(actual[1], expected[1]);
}

TEST(Dense, LeavesFrozenInputsWithoutGradient) {
  const at::Tensor x = at::randn({4, 8}), weight = at::randn({3, 8}).requires_grad_();
  const at::Tensor y = dense(x, weight);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_TRUE(weight.grad().defined());
  EXPECT_FALSE(x.grad().defined());
}

TEST(Dense, SecondDerivativesMatchAtLinearWithCreateGraph) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({6, 8}).requires_grad_(), weight = at::randn({5, 8}).requires_grad_();
  // d/dW of ‖∂L/∂x‖² for L = Σ y², which depends on the backward's own derivative.
  auto second = [&](auto f) {
    const at::Tensor y = f();
    const at::Tensor dx = grad({y.pow(2).sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    return grad({dx.pow(2).sum()}, {weight})[0];
  };
  expect_close(second([&] { return dense(x, weight); }), second([&] { return at::linear(x, weight); }));
}

TEST(Dense, FollowsBf16AutocastAsAtLinearDoes) {
  const at::Tensor x = at::randn({4, 8}), weight = at::randn({3, 8});
  at::autocast::set_cpu_enabled(true);
  const at::Tensor actual = dense(x, weight), expected = at::linear(x, weight);
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  EXPECT_EQ(actual.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(actual, expected));
}

TEST(Dense, OnednnMatmulMatchesMmForEveryOperandLayout) {
  at::manual_seed(4);
  const at::Tensor a = at::randn({9, 6}), b = at::randn({6, 5});
  const std::vector<at::Tensor> lefts = {a, a.t().contiguous().t(), at::randn({9, 12}).slice(1, 0, 12, 2)};
  const std::vector<at::Tensor> rights = {b, b.t().contiguous().t(), at::randn({6, 10}).slice(1, 0, 10, 2)};
  for (const at::Tensor& left : lefts) {
    for (const at::Tensor& right : rights) expect_close(onednn_matmul(left, right), at::mm(left, right));
  }
  EXPECT_TRUE(at::equal(onednn_matmul(at::randn({3, 0}), at::randn({0, 2})), at::zeros({3, 2})));
}

}  // namespace
}  // namespace ladle::model
