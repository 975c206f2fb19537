// Evaluation on held-out data: loss and perplexity overall and per task, and for instruction data task
// accuracy by greedy exact match of the generated reply and by log-likelihood choice among candidate replies.
//
// Metrics (L is the label, "eval" for the live weights; every value is a plain double):
//   L/loss, L/perplexity                 mean next-token loss over every target token, and exp of it
//   L/loss/<task>, L/perplexity/<task>   the same over one task's examples
//   L/exact_match[/<task>]               fraction of generation examples whose greedy reply (up to eos or
//                                        max_new_tokens), stripped of surrounding whitespace, equals the stripped
//                                        reference reply
//   L/choice_accuracy[/<task>]           fraction of the generation examples of tasks with candidate replies for
//                                        which the reference is the candidate with the highest log-likelihood of
//                                        its tokens and eos given the prompt (one reply's loss under the chat
//                                        template's mask)
//   L/examples                           held-out examples the loss covers
// Examples are batched in order of length (less padding); generation runs batches of items with similar caps
// (GenerationItem::max_new_tokens) through the KV cache, and candidate replies of several items share a forward.
// With several processes, each evaluates every world_size-th example and the sums are all-reduced, so every
// process returns the same metrics.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/model/causal_lm.h"
#include "lib/text/example_dataset.h"
#include "trainer/example_scores.h"
#include "trainer/metrics.h"
#include "trainer/train_config.h"
#include "trainer/training_data.h"

namespace ladle::trainer {

class ProcessGroup;

// A held-out example whose reply the model generates and, with candidates, chooses.
struct GenerationItem {
  std::vector<std::int64_t> prompt;  // the conversation up to the assistant header (ChatFormat::encode_prompt)
  std::string reference;             // the reference reply, stripped of surrounding whitespace
  std::string task;
  std::vector<std::string> candidates;                     // candidate replies (empty: no choice scoring)
  std::vector<text::TokenizedExample> candidate_examples;  // the conversation ending in each candidate
  // Tokens generated at most: the config's max_new_tokens, capped at the longest reference reply of the task plus
  // its eos (a longer reply cannot equal any reference of the task, so generating further only costs time).
  std::int64_t max_new_tokens = 0;
};

struct EvaluationSet {
  std::shared_ptr<const text::ExampleDataset> loss_examples;  // null: nothing to evaluate
  std::vector<GenerationItem> generation;
  std::vector<std::string> tasks;  // every task of either, sorted
};

// Picks the held-out subsets (seeded, so every run and process picks the same) and builds the prompts and
// candidates EvaluationConfig describes. Empty when data.valid is null.
EvaluationSet make_evaluation_set(const TrainingData& data, const EvaluationConfig& config, std::uint64_t seed);

class Evaluator {
 public:
  Evaluator(EvaluationSet set, EvaluationConfig config, std::shared_ptr<const text::Tokenizer> tokenizer, bool bf16);

  bool empty() const { return !set_.loss_examples; }
  const EvaluationSet& set() const { return set_; }

  // Evaluates the model's current weights in eval mode without autograd (the train/eval mode is restored), on
  // every process of `group` together. Metric names start with `label`. With `examples`, also every example's
  // score (a single process only: throws ladle::Error when the group has several).
  Metrics evaluate(model::CausalLm& model, ProcessGroup& group, const std::string& label,
                   ExampleScores* examples = nullptr) const;

 private:
  EvaluationSet set_;
  EvaluationConfig config_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
  bool bf16_;
  std::int64_t pad_id_;
};

}  // namespace ladle::trainer
