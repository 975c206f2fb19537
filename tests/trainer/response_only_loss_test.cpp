// Response-only loss: for instruction data only the assistant's reply and the eos after it are targets; with
// train_on_all_tokens every token after the first is.
#include <gtest/gtest.h>

#include <filesystem>

#include "lib/text/instruction_dataset.h"
#include "tests/support/command_runner.h"
#include "tests/support/tiny_run.h"
#include "trainer/trainer.h"

namespace ladle::trainer {
namespace {

class LossProbe : public Callback {
 public:
  std::string name() const override { return "loss_probe"; }
  CallbackKind kind() const override { return CallbackKind::observes; }
  void on_event(Event event, TrainState& state) override {
    if (event == Event::after_backward) loss = state.loss;
  }
  double loss = 0;
};

// −log p(ids[t] | ids[<t]) under the untrained tiny model, for every t ≥ 1.
std::vector<double> token_losses(const std::vector<std::int64_t>& ids) {
  auto model = testing::tiny_model();
  at::NoGradGuard no_grad;
  const at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0);
  const at::Tensor log_probs = at::log_softmax(model->forward(input).logits[0], -1);
  std::vector<double> losses;
  for (std::size_t t = 1; t < ids.size(); ++t) {
    losses.push_back(-log_probs[static_cast<std::int64_t>(t) - 1][ids[t]].item<double>());
  }
  return losses;
}

double first_step_loss(TrainingData data, const std::string& out) {
  TrainConfig config = testing::tiny_config(out);
  config.max_steps = 1;
  Trainer trainer(config, testing::tiny_model(), std::move(data));
  auto probe = std::make_shared<LossProbe>();
  trainer.add_callback(probe);
  trainer.train();
  return probe->loss;
}

const std::vector<text::InstructionRecord> kRecords = {
    {{{text::ChatRole::user, "Repeat: ox"}, {text::ChatRole::assistant, "ox"}}, "echo", {}, 1}};

TEST(ResponseOnlyLoss, OnlyTheReplyAndItsEosAreTargets) {
  const std::string dir = ladle::testing::make_temp_dir("response-only");
  TrainingData data;
  data.tokenizer = testing::tiny_tokenizer();
  data.train = text::tokenize_instructions(kRecords, *data.chat_template, *data.tokenizer);
  const auto ids = data.train->example(0).input_ids;
  // The byte tokenizer's ids: 'o' = 4 + 111, 'x' = 4 + 120, eos = 2 end the sequence.
  ASSERT_GE(ids.size(), 4u);
  ASSERT_EQ(std::vector<std::int64_t>(ids.end() - 3, ids.end()), (std::vector<std::int64_t>{115, 124, 2}));
  const auto losses = token_losses(ids);
  const double expected = (losses[losses.size() - 3] + losses[losses.size() - 2] + losses[losses.size() - 1]) / 3;

  EXPECT_NEAR(first_step_loss(data, dir), expected, 1e-5);
  std::filesystem::remove_all(dir);
}

TEST(ResponseOnlyLoss, TrainOnAllTokensMakesEveryTokenATarget) {
  const std::string dir = ladle::testing::make_temp_dir("all-tokens");
  TrainingData data;
  data.tokenizer = testing::tiny_tokenizer();
  text::ChatTemplateOptions options;
  options.train_on_all_tokens = true;
  data.chat_template = std::make_shared<const text::ChatTemplate>(options);
  data.train = text::tokenize_instructions(kRecords, *data.chat_template, *data.tokenizer);
  const auto losses = token_losses(data.train->example(0).input_ids);
  double expected = 0;
  for (double loss : losses) expected += loss / static_cast<double>(losses.size());

  EXPECT_NEAR(first_step_loss(data, dir), expected, 1e-5);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ladle::trainer
