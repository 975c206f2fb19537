// Evaluation on a model whose outputs are known in closed form: every layer is zeroed, so the logits at a position
// depend only on that position's token through the embedding and lm_head. Rows chosen so that any token but 'k'
// predicts 'k' with logit about 40 (every other logit 0), and 'k' predicts eos: the greedy reply to every prompt
// is "k".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "lib/text/instruction_dataset.h"
#include "tests/support/tiny_run.h"
#include "trainer/distributed.h"
#include "trainer/evaluator.h"
#include "lib/model/mixture_lm.h"

namespace ladle::trainer {
namespace {

constexpr std::int64_t kEos = 2;

// vocab_size beyond the byte tokenizer's 263 pads the model's vocabulary, as real checkpoints do (to a multiple of
// 64, say): the padding rows have no text. With another `letter` the model replies that letter instead of 'k'.
std::shared_ptr<model::CausalLm> replies_k_model(std::int64_t vocab_size = 263, char letter = 'k') {
  const std::int64_t kLetterK = 4 + letter;
  nlohmann::json config = testing::tiny_llama_json();
  config["vocab_size"] = vocab_size;
  auto model = model::create_causal_lm(model::CausalLmConfig::from_json(config), 0);
  at::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    at::Tensor p = item.value();
    p.zero_();
    if (item.key().find("norm") != std::string::npos) p.fill_(1);
  }
  // RMSNorm turns the unit vector e_i into 4·e_i (hidden size 16), so a row 10·e_i of lm_head gives logit 40.
  at::Tensor embedding = model->named_parameters()["model.embed_tokens.weight"];
  embedding.select(1, 0).fill_(1);
  embedding[kLetterK].zero_();
  embedding[kLetterK][1] = 1;
  at::Tensor head = model->named_parameters()["lm_head.weight"];
  head[kLetterK][0] = 10;
  head[kEos][1] = 10;
  return model;
}

TrainingData data_with_replies(const std::vector<std::pair<std::string, std::string>>& task_replies) {
  TrainingData data;
  data.tokenizer = testing::tiny_tokenizer();
  for (std::size_t i = 0; i < task_replies.size(); ++i) {
    text::InstructionRecord record;
    record.messages = {{text::ChatRole::user, "Which letter " + std::to_string(i) + "?"},
                       {text::ChatRole::assistant, task_replies[i].second}};
    record.task = task_replies[i].first;
    data.valid_records.push_back(record);
  }
  data.valid = text::tokenize_instructions(data.valid_records, *data.chat_template, *data.tokenizer);
  return data;
}

Metrics evaluate(const TrainingData& data, EvaluationConfig config,
                 std::shared_ptr<model::CausalLm> model = replies_k_model()) {
  Evaluator evaluator(make_evaluation_set(data, config, 0), config, data.tokenizer, false);
  ProcessGroup single;
  return evaluator.evaluate(*model, single, "eval");
}

const std::vector<std::pair<std::string, std::string>> kReplies = {{"k_task", "k"}, {"k_task", "k"}, {"j_task", "j"}};

TEST(Evaluation, LossIsTheTokenWeightedMeanOverTargetsOverallAndPerTask) {
  // Each reply has two targets (letter, eos). The winning logit is L = 10 / √(1/16 + ε) (RMSNorm's ε), so a
  // right prediction costs log(1 + 262·e⁻ᴸ) ≈ 0 and a wrong one L + log(1 + 262·e⁻ᴸ): "j" misses both targets
  // ('k' is predicted after the header and again after 'j').
  const Metrics metrics = evaluate(data_with_replies(kReplies), EvaluationConfig{});
  const double logit = 10 / std::sqrt(1.0 / 16 + testing::tiny_model()->config().norm_eps);
  const double miss = logit + std::log1p(262 * std::exp(-logit));
  EXPECT_NEAR(metrics.at("eval/loss/k_task"), 0.0, 1e-6);
  EXPECT_NEAR(metrics.at("eval/loss/j_task"), miss, 1e-4);
  EXPECT_NEAR(metrics.at("eval/loss"), 2 * miss / 6, 1e-4);
  EXPECT_NEAR(metrics.at("eval/perplexity/j_task"), std::exp(miss), std::exp(miss) * 1e-4);
  EXPECT_EQ(metrics.at("eval/examples"), 3);
}

TEST(Evaluation, ExactMatchComparesTheGreedyReplyWithTheReference) {
  const Metrics metrics = evaluate(data_with_replies(kReplies), EvaluationConfig{});
  EXPECT_DOUBLE_EQ(metrics.at("eval/exact_match/k_task"), 1.0);
  EXPECT_DOUBLE_EQ(metrics.at("eval/exact_match/j_task"), 0.0);
  EXPECT_DOUBLE_EQ(metrics.at("eval/exact_match"), 2.0 / 3.0);
}

// A padding id the model prefers (logit 44 after every token, above 'k''s 40) is never generated: the tokenizer could
// not decode it. The greedy reply is still "k", the best decodable token.
TEST(Evaluation, GenerationOfAPaddedVocabularyModelStaysWithinTheTokenizersIds) {
  auto model = replies_k_model(/*vocab_size=*/320);
  {
    at::NoGradGuard no_grad;
    at::Tensor head = model->named_parameters()["lm_head.weight"];
    head[300][0] = 11;
    head[300][1] = 11;
  }
  const Metrics metrics = evaluate(data_with_replies(kReplies), EvaluationConfig{}, model);
  EXPECT_DOUBLE_EQ(metrics.at("eval/exact_match/k_task"), 1.0);
  EXPECT_DOUBLE_EQ(metrics.at("eval/exact_match"), 2.0 / 3.0);
}

TEST(Evaluation, ChoiceAccuracyPicksTheMostLikelyCandidate) {
  EvaluationConfig config;
  config.choices = {{"k_task", {"j", "k"}}, {"j_task", {"k", "j"}}};
  const Metrics metrics = evaluate(data_with_replies(kReplies), config);
  EXPECT_DOUBLE_EQ(metrics.at("eval/choice_accuracy/k_task"), 1.0);
  EXPECT_DOUBLE_EQ(metrics.at("eval/choice_accuracy/j_task"), 0.0);
  EXPECT_DOUBLE_EQ(metrics.at("eval/choice_accuracy"), 2.0 / 3.0);
}

TEST(Evaluation, TasksWithFewDistinctRepliesGetThemAsChoices) {
  EvaluationConfig config;
  config.auto_choices = 2;
  const Metrics metrics = evaluate(data_with_replies({{"letter", "k"}, {"letter", "j"}, {"letter", "k"}}), config);
  EXPECT_DOUBLE_EQ(metrics.at("eval/choice_accuracy/letter"), 2.0 / 3.0);
  config.auto_choices = 1;
  EXPECT_EQ(evaluate(data_with_replies({{"letter", "k"}, {"letter", "j"}}), config).count("eval/choice_accuracy"), 0u);
}

// A mixture of the model replying "k" and one replying "j" with weights 1/4 and 3/4 (model::MixtureLm): every
// probability is the weighted sum of the experts' (each certain up to e^-40), so after the assistant header
// p(k) = 1/4 and p(j) = 3/4, and after a letter p(eos) is the weight of the expert that replies it. A "k" reply
// costs -log(1/4) per target, a "j" reply -log(3/4); the greedy reply is "j", and so is every choice.
TEST(Evaluation, AMixtureOfModelsIsScoredAsTheWeightedSumOfTheirDistributions) {
  std::vector<std::shared_ptr<model::CausalLm>> experts = {replies_k_model(263, 'k'), replies_k_model(263, 'j')};
  const auto router = [](const at::Tensor& input_ids, const at::Tensor&) {
    return at::tensor({0.25f, 0.75f}).repeat({input_ids.size(0), 1});
  };
  auto mixture = std::make_shared<model::MixtureLm>(experts, router);
  EvaluationConfig config;
  config.generation_examples = 3;
  config.choices = {{"k_task", {"j", "k"}}, {"j_task", {"k", "j"}}};
  ExampleScores scores;
  Evaluator evaluator(make_evaluation_set(data_with_replies(kReplies), config, 0), config, testing::tiny_tokenizer(),
                      false);
  ProcessGroup single;
  const Metrics metrics = evaluator.evaluate(*mixture, single, "eval", &scores);
  EXPECT_NEAR(metrics.at("eval/loss/k_task"), -std::log(0.25), 1e-5);
  EXPECT_NEAR(metrics.at("eval/loss/j_task"), -std::log(0.75), 1e-5);
  EXPECT_NEAR(metrics.at("eval/loss"), (4 * -std::log(0.25) + 2 * -std::log(0.75)) / 6, 1e-5);
  EXPECT_EQ(metrics.at("eval/exact_match/k_task"), 0);
  EXPECT_EQ(metrics.at("eval/exact_match/j_task"), 1);
  EXPECT_EQ(metrics.at("eval/choice_accuracy/j_task"), 1);
  EXPECT_EQ(metrics.at("eval/choice_accuracy/k_task"), 0);
  // Per example: two targets each, losses -2 log w of the expert replying its letter.
  ASSERT_EQ(scores.tokens.size(), 3u);
  double loss_sum = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(scores.tokens[i], 2);
    loss_sum += scores.loss_sum[i];
  }
  EXPECT_NEAR(loss_sum, 2 * 2 * -std::log(0.25) + 2 * -std::log(0.75), 1e-4);
  EXPECT_EQ(std::count(scores.accuracy.begin(), scores.accuracy.end(), 1.0), 1);
}

TEST(Evaluation, AMixtureWithAllWeightOnOneExpertScoresAsThatExpert) {
  std::vector<std::shared_ptr<model::CausalLm>> experts = {replies_k_model(263, 'j'), replies_k_model()};
  const auto router = [](const at::Tensor& input_ids, const at::Tensor&) {
    return at::tensor({0.0f, 1.0f}).repeat({input_ids.size(0), 1});
  };
  EvaluationConfig config;
  config.generation_examples = 3;
  const Metrics alone = evaluate(data_with_replies(kReplies), config);
  const Metrics mixed =
      evaluate(data_with_replies(kReplies), config, std::make_shared<model::MixtureLm>(experts, router));
  for (const auto& [name, value] : alone) {
    EXPECT_NEAR(mixed.at(name), value, 1e-4 * std::max(1.0, std::abs(value))) << name;  // perplexities reach e^40
  }
}

}  // namespace
}  // namespace ladle::trainer
