// The diagonal Fisher against per-example gradients squared and averaged by hand.
#include "trainer/fisher.h"

#include <gtest/gtest.h>

#include "lib/model/causal_lm_loss.h"
#include "lib/text/batch.h"
#include "lib/weights/flat_parameters.h"
#include "tests/support/tiny_run.h"
#include "trainer/distributed.h"

namespace ladle::trainer {
namespace {

TEST(DiagonalFisher, IsTheMeanOverExamplesOfTheSquaredLogLikelihoodGradient) {
  const auto data = testing::tiny_data(5);
  const std::size_t n = data.train->size();

  auto reference = testing::tiny_model();
  reference->eval();
  NamedTensors expected;
  for (const auto& item : reference->named_parameters()) expected.insert(item.key(), at::zeros_like(item.value()));
  for (std::size_t i = 0; i < n; ++i) {
    reference->zero_grad();
    const auto batch = text::collate({data.train->example(i)}, 0);
    const auto logits = reference->forward(batch.input_ids).logits;
    model::causal_lm_sequence_loss(logits, batch.labels).loss_sum.sum().backward();
    for (const auto& item : reference->named_parameters()) {
      expected.at(item.key()).add_(item.value().grad().square() / static_cast<double>(n));
    }
  }

  auto model = testing::tiny_model();
  FlatParameters parameters(*model);
  ProcessGroup single;
  const NamedTensors fisher = diagonal_fisher(*model, parameters, *data.train, n, 0, single, false);
  ASSERT_EQ(fisher.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    EXPECT_TRUE(at::allclose(fisher.at(name), tensor, 1e-4, 1e-10)) << name;
  }
}

}  // namespace
}  // namespace ladle::trainer
