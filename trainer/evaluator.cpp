#include "trainer/evaluator.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "lib/model/causal_lm_loss.h"
#include "lib/model/generation.h"
#include "lib/text/batch.h"
#include "lib/text/whitespace.h"
#include "lib/util/error.h"
#include "trainer/bf16_autocast.h"
#include "trainer/distributed.h"

namespace ladle::trainer {
namespace {

// Columns of the per-task sums that are all-reduced.
enum Column : std::int64_t {
  kLossSum,
  kTokens,
  kExamples,
  kExactCorrect,
  kExactTotal,
  kChoiceCorrect,
  kChoiceTotal,
  kColumns
};

// Sums of every row's target losses [batch] and target counts [batch], as the training loss counts them.
model::SequenceLoss sequence_losses(model::CausalLm& model, const text::Batch& batch, bool bf16) {
  at::Tensor logits;
  {
    Bf16Autocast autocast(bf16, model.device());
    model::ForwardOptions options;
    options.attention_mask = batch.attention_mask.to(model.device());
    logits = model.forward(batch.input_ids.to(model.device()), options).logits;
  }
  return model::causal_lm_sequence_loss(logits, batch.labels.to(model.device()), model::kIgnoreIndex,
                                        batch.attention_mask.to(model.device()));
}

// The candidate replies of a task: listed ones, or the distinct references when there are few enough.
std::map<std::string, std::vector<std::string>> task_candidates(const TrainingData& data,
                                                                const EvaluationConfig& config) {
  std::map<std::string, std::vector<std::string>> candidates = config.choices;
  if (config.auto_choices == 0) return candidates;
  std::map<std::string, std::set<std::string>> distinct;
  for (const auto& record : data.valid_records) {
    distinct[record.task].insert(text::strip_whitespace(record.messages.back().content));
  }
  for (const auto& [task, replies] : distinct) {
    if (candidates.count(task) == 0 && replies.size() >= 2 && replies.size() <= config.auto_choices) {
      candidates[task] = std::vector<std::string>(replies.begin(), replies.end());
    }
  }
  return candidates;
}

// Per task, the tokens of its longest reference reply plus the eos closing it (the chat template encodes a reply
// on its own, stripped): the most an exactly matching reply can take.
std::map<std::string, std::int64_t> longest_replies(const TrainingData& data) {
  std::map<std::string, std::int64_t> longest;
  for (const auto& record : data.valid_records) {
    const std::string reply = text::strip_whitespace(record.messages.back().content);
    auto& tokens = longest[record.task];
    tokens = std::max(tokens, static_cast<std::int64_t>(data.tokenizer->encode(reply).size()) + 1);
  }
  return longest;
}

GenerationItem generation_item(const TrainingData& data, const text::InstructionRecord& record,
                               const std::vector<std::string>* candidates, std::int64_t max_new_tokens) {
  GenerationItem item;
  item.max_new_tokens = max_new_tokens;
  std::vector<text::ChatMessage> prompt(record.messages.begin(), record.messages.end() - 1);
  item.prompt = data.chat_template->encode_prompt(prompt, *data.tokenizer);
  item.reference = text::strip_whitespace(record.messages.back().content);
  item.task = record.task;
  if (candidates != nullptr) {
    item.candidates = *candidates;
    for (const auto& candidate : *candidates) {
      auto messages = record.messages;
      messages.back().content = candidate;
      item.candidate_examples.push_back(data.chat_template->encode(messages, *data.tokenizer));
    }
  }
  return item;
}

}  // namespace

EvaluationSet make_evaluation_set(const TrainingData& data, const EvaluationConfig& config, std::uint64_t seed) {
  EvaluationSet set;
  if (!data.valid || data.valid->size() == 0) return set;
  set.loss_examples = data.valid;
  if (config.max_examples > 0 && config.max_examples < data.valid->size()) {
    set.loss_examples = text::random_subset(data.valid, config.max_examples, seed);
  }
  std::set<std::string> tasks;
  for (std::size_t i = 0; i < set.loss_examples->size(); ++i) tasks.insert(set.loss_examples->task(i));
  if (!data.valid_records.empty() && config.generation_examples > 0) {
    const auto candidates = task_candidates(data, config);
    const auto longest = longest_replies(data);
    const std::size_t count = std::min(config.generation_examples, set.loss_examples->size());
    const auto chosen = text::random_subset(set.loss_examples, count, seed + 1);
    for (std::size_t i = 0; i < chosen->size(); ++i) {
      const auto source = chosen->example(i).source_index;
      if (source >= data.valid_records.size()) {
        throw Error("evaluation: held-out example " + std::to_string(i) + " names record " + std::to_string(source) +
                    " of " + std::to_string(data.valid_records.size()));
      }
      const auto& record = data.valid_records[source];
      const auto found = candidates.find(record.task);
      const std::int64_t cap = std::min(config.max_new_tokens, longest.at(record.task));
      set.generation.push_back(
          generation_item(data, record, found == candidates.end() ? nullptr : &found->second, cap));
      tasks.insert(record.task);
    }
  }
  set.tasks.assign(tasks.begin(), tasks.end());
  return set;
}

Evaluator::Evaluator(EvaluationSet set, EvaluationConfig config, std::shared_ptr<const text::Tokenizer> tokenizer,
                     bool bf16)
    : set_(std::move(set)),
      config_(std::move(config)),
      tokenizer_(std::move(tokenizer)),
      bf16_(bf16),
      pad_id_(tokenizer_->pad_id().value_or(tokenizer_->eos_id().value_or(0))) {}

Metrics Evaluator::evaluate(model::CausalLm& model, ProcessGroup& group, const std::string& label,
                            ExampleScores* scores) const {
  if (empty()) return {};
  const bool was_training = model.is_training();
  model.eval();
  at::NoGradGuard no_grad;
  const auto task_count = static_cast<std::int64_t>(set_.tasks.size());
  std::vector<double> sums(static_cast<std::size_t>(task_count * kColumns), 0.0);
  const auto add = [&](const std::string& task, Column column, double value) {
    const auto row = std::lower_bound(set_.tasks.begin(), set_.tasks.end(), task) - set_.tasks.begin();
    sums[static_cast<std::size_t>(row * kColumns + column)] += value;
  };
  const auto mine = [&](std::size_t index) { return static_cast<int>(index % group.world_size()) == group.rank(); };

  // Loss over this process's share of the held-out examples, shortest first so that a batch carries little padding.
  const auto& examples = *set_.loss_examples;
  std::vector<std::size_t> share;  // indices into the examples
  std::vector<std::size_t> length(examples.size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    if (mine(i)) share.push_back(i), length[i] = examples.example(i).input_ids.size();
  }
  std::stable_sort(share.begin(), share.end(), [&](std::size_t a, std::size_t b) { return length[a] < length[b]; });
  if (scores != nullptr) {
    if (group.world_size() > 1) throw Error("evaluation: per-example scores need a single process");
    *scores = {std::vector<double>(examples.size()), std::vector<double>(examples.size()),
               std::vector<double>(set_.generation.size())};
  }
  for (std::size_t start = 0; start < share.size(); start += config_.batch_size) {
    std::vector<text::TokenizedExample> batch;
    for (std::size_t j = start; j < std::min(share.size(), start + config_.batch_size); ++j) {
      batch.push_back(examples.example(share[j]));
    }
    const auto losses = sequence_losses(model, text::collate(batch, pad_id_), bf16_);
    const auto loss_sum = losses.loss_sum.to(at::kDouble).cpu(), tokens = losses.token_count.cpu();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const double example_loss = loss_sum[static_cast<std::int64_t>(i)].item<double>();
      const auto example_tokens = static_cast<double>(tokens[static_cast<std::int64_t>(i)].item<std::int64_t>());
      add(batch[i].task, kLossSum, example_loss);
      add(batch[i].task, kTokens, example_tokens);
      add(batch[i].task, kExamples, 1);
      if (scores != nullptr) {
        scores->loss_sum[share[start + i]] = example_loss;
        scores->tokens[share[start + i]] = example_tokens;
      }
    }
  }

  // Greedy generation over this process's share of the generation items, batched by cap and then prompt length:
  // a batch ends when all its rows generated eos, or at its items' cap.
  std::vector<const GenerationItem*> items;
  const auto item_index = [&](const GenerationItem* item) {
    return static_cast<std::size_t>(item - set_.generation.data());
  };
  for (std::size_t i = 0; i < set_.generation.size(); ++i) {
    if (mine(i)) items.push_back(&set_.generation[i]);
  }
  std::stable_sort(items.begin(), items.end(), [](const GenerationItem* a, const GenerationItem* b) {
    return std::make_pair(a->max_new_tokens, a->prompt.size()) < std::make_pair(b->max_new_tokens, b->prompt.size());
  });
  model::GenerationOptions generation;
  if (tokenizer_->eos_id()) generation.stop_token_ids = {*tokenizer_->eos_id()};
  // A vocabulary padded beyond the tokenizer's: the padding ids have no text to compare.
  generation.decodable_vocab_size = std::min(tokenizer_->vocab_size(), model.config().vocab_size);
  for (std::size_t start = 0; start < items.size(); start += config_.batch_size) {
    const std::size_t end = std::min(items.size(), start + config_.batch_size);
    std::vector<std::vector<std::int64_t>> prompts;
    for (std::size_t i = start; i < end; ++i) prompts.push_back(items[i]->prompt);
    generation.max_new_tokens = items[end - 1]->max_new_tokens;  // the batch's largest: items are sorted by it
    std::vector<std::vector<std::int64_t>> replies;
    {
      Bf16Autocast autocast(bf16_, model.device());
      replies = model::generate(model, prompts, generation);
    }
    for (std::size_t i = start; i < end; ++i) {
      const bool correct = text::strip_whitespace(tokenizer_->decode(replies[i - start])) == items[i]->reference;
      add(items[i]->task, kExactCorrect, correct ? 1 : 0);
      add(items[i]->task, kExactTotal, 1);
      if (scores != nullptr) scores->accuracy[item_index(items[i])] = correct ? 1 : 0;
    }
  }

  // Candidate choice: the candidates of consecutive items share a forward of up to batch_size rows (or one item's
  // candidates, when it has more).
  std::vector<const GenerationItem*> choosing;
  for (const GenerationItem* item : items) {
    if (!item->candidates.empty()) choosing.push_back(item);
  }
  for (std::size_t start = 0; start < choosing.size();) {
    std::vector<text::TokenizedExample> rows;
    std::size_t end = start;
    while (end < choosing.size() &&
           (rows.empty() || rows.size() + choosing[end]->candidate_examples.size() <= config_.batch_size)) {
      rows.insert(rows.end(), choosing[end]->candidate_examples.begin(), choosing[end]->candidate_examples.end());
      ++end;
    }
    const at::Tensor loss_sum = sequence_losses(model, text::collate(rows, pad_id_), bf16_).loss_sum.cpu();
    std::int64_t row = 0;
    for (std::size_t i = start; i < end; ++i) {
      const auto count = static_cast<std::int64_t>(choosing[i]->candidates.size());
      const auto best = loss_sum.narrow(0, row, count).argmin().item<std::int64_t>();
      row += count;
      const bool correct = choosing[i]->candidates[static_cast<std::size_t>(best)] == choosing[i]->reference;
      add(choosing[i]->task, kChoiceCorrect, correct ? 1 : 0);
      add(choosing[i]->task, kChoiceTotal, 1);
      if (scores != nullptr) scores->accuracy[item_index(choosing[i])] = correct ? 1 : 0;
    }
    start = end;
  }
  if (was_training) model.train();

  at::Tensor totals = at::tensor(sums, at::kDouble);
  group.all_reduce_sum(totals);
  const auto value = [&](std::int64_t row, Column column) { return totals[row * kColumns + column].item<double>(); };
  Metrics metrics;
  double loss_sum = 0, tokens = 0, examples_total = 0, exact = 0, exact_total = 0, choice = 0, choice_total = 0;
  for (std::int64_t row = 0; row < task_count; ++row) {
    const std::string& task = set_.tasks[static_cast<std::size_t>(row)];
    if (value(row, kTokens) > 0) {
      const double loss = value(row, kLossSum) / value(row, kTokens);
      metrics[label + "/loss/" + task] = loss;
      metrics[label + "/perplexity/" + task] = std::exp(loss);
    }
    if (value(row, kExactTotal) > 0) {
      metrics[label + "/exact_match/" + task] = value(row, kExactCorrect) / value(row, kExactTotal);
    }
    if (value(row, kChoiceTotal) > 0) {
      metrics[label + "/choice_accuracy/" + task] = value(row, kChoiceCorrect) / value(row, kChoiceTotal);
    }
    loss_sum += value(row, kLossSum), tokens += value(row, kTokens), examples_total += value(row, kExamples);
    exact += value(row, kExactCorrect), exact_total += value(row, kExactTotal);
    choice += value(row, kChoiceCorrect), choice_total += value(row, kChoiceTotal);
  }
  metrics[label + "/examples"] = examples_total;
  if (tokens > 0) {
    metrics[label + "/loss"] = loss_sum / tokens;
    metrics[label + "/perplexity"] = std::exp(loss_sum / tokens);
  }
  if (exact_total > 0) metrics[label + "/exact_match"] = exact / exact_total;
  if (choice_total > 0) metrics[label + "/choice_accuracy"] = choice / choice_total;
  return metrics;
}

}  // namespace ladle::trainer
