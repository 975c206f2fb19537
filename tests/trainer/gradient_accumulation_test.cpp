// Gradient accumulation: micro-batches of different token counts add up to the gradient of the one large batch,
// whose loss is the mean over all of its target tokens.
#include <gtest/gtest.h>

#include <filesystem>

#include "lib/model/causal_lm_loss.h"
#include "lib/text/batch.h"
#include "lib/weights/flat_parameters.h"
#include "tests/support/command_runner.h"
#include "tests/support/tiny_run.h"
#include "trainer/trainer.h"

namespace ladle::trainer {
namespace {

// The gradients at after_backward, by parameter name.
class GradientProbe : public Callback {
 public:
  std::string name() const override { return "gradient_probe"; }
  CallbackKind kind() const override { return CallbackKind::observes; }
  void on_event(Event event, TrainState& state) override {
    if (event != Event::after_backward) return;
    const auto& group = state.flat_parameters().groups().front();
    for (const auto& slot : group.slots) {
      gradients.insert(slot.name, group.gradients.narrow(0, slot.offset, slot.numel).view(slot.shape).clone());
    }
  }
  NamedTensors gradients;
};

NamedTensors first_step_gradients(const std::string& out, std::size_t batch_size, std::int64_t accumulation) {
  TrainConfig config = testing::tiny_config(out);
  config.max_steps = 1;
  config.batch_size = batch_size;
  config.gradient_accumulation_steps = accumulation;
  Trainer trainer(config, testing::tiny_model(), testing::tiny_data(4));
  auto probe = std::make_shared<GradientProbe>();
  trainer.add_callback(probe);
  trainer.train();
  return probe->gradients;
}

TEST(GradientAccumulation, TwoMicroBatchesOfTwoGiveTheGradientOfOneBatchOfFour) {
  const std::string dir = ladle::testing::make_temp_dir("accumulation");
  const auto accumulated = first_step_gradients(dir + "/accumulated", 2, 2);
  const auto large = first_step_gradients(dir + "/large", 4, 1);

  // Independently: the mean token loss of all four examples in one forward, differentiated by autograd.
  const auto data = testing::tiny_data(4);
  std::vector<text::TokenizedExample> examples;
  for (std::size_t i = 0; i < 4; ++i) examples.push_back(data.train->example(i));
  const auto batch = text::collate(examples, *data.tokenizer->pad_id());
  auto model = testing::tiny_model();
  model->train();
  model::ForwardOptions options;
  options.attention_mask = batch.attention_mask;
  model::causal_lm_loss(model->forward(batch.input_ids, options).logits, batch.labels).backward();

  ASSERT_EQ(accumulated.size(), large.size());
  for (const auto& item : model->named_parameters()) {
    const at::Tensor& expected = item.value().grad();
    EXPECT_TRUE(at::allclose(accumulated.at(item.key()), expected, 1e-5, 1e-7)) << item.key();
    EXPECT_TRUE(at::allclose(large.at(item.key()), expected, 1e-5, 1e-7)) << item.key();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ladle::trainer
