#include "trainer/heldout_evaluator.h"

#include "lib/model/causal_lm.h"
#include "lib/text/instruction_dataset.h"
#include "lib/text/instruction_record.h"
#include "lib/text/corpus_tokens.h"
#include "lib/text/token_block_dataset.h"
#include "lib/util/error.h"
#include "trainer/distributed.h"
#include "trainer/evaluator.h"
#include "trainer/training_data.h"

namespace ladle::trainer {
namespace {

std::shared_ptr<const text::ExampleDataset> corpus_blocks(const HeldOutSet& set, const text::Tokenizer& tokenizer) {
  auto tokens = std::make_shared<const std::vector<std::int32_t>>(text::tokenize_corpus(set.path, tokenizer).tokens);
  auto blocks = std::make_shared<const text::TokenBlockDataset>(tokens, set.block_size);
  if (blocks->size() == 0) {
    throw Error(set.path.string() + ": " + std::to_string(tokens->size()) + " tokens make no block of " +
                std::to_string(set.block_size) + " (held-out set " + set.label + ")");
  }
  return blocks;
}

// The training config whose tokenizer and chat format a held-out evaluation of model_folder uses.
trainer::TrainConfig heldout_text_config(const std::filesystem::path& model_folder, const std::string& name) {
  trainer::TrainConfig config;
  config.model.path = model_folder;
  if (name == "byte") {
    config.tokenizer.type = trainer::TokenizerKind::byte;
  } else {
    config.tokenizer.path = name;
  }
  return config;
}

}  // namespace

std::shared_ptr<const text::Tokenizer> load_heldout_tokenizer(const std::filesystem::path& model_folder,
                                                              const std::string& name) {
  return trainer::load_tokenizer(heldout_text_config(model_folder, name));
}

std::shared_ptr<const text::ChatFormat> heldout_chat_format(const TrainConfig& config) {
  TrainConfig scored_whole = config;
  scored_whole.data.max_length = 0;
  scored_whole.data.train_on_all_tokens = false;
  return load_chat_format(scored_whole);
}

std::shared_ptr<const text::ChatFormat> load_heldout_chat_format(const std::filesystem::path& model_folder,
                                                                 const std::string& name) {
  return heldout_chat_format(heldout_text_config(model_folder, name));
}

HeldOutEvaluator::HeldOutEvaluator(std::shared_ptr<const text::Tokenizer> tokenizer, const std::vector<HeldOutSet>& sets,
                                   HeldOutEvaluationOptions options)
    : single_process_(std::make_unique<trainer::ProcessGroup>()) {
  if (sets.empty()) throw Error("held-out evaluation: no held-out set given");
  trainer::EvaluationConfig evaluation;
  evaluation.max_examples = options.max_examples;
  evaluation.generation_examples = options.generation_examples;
  evaluation.batch_size = options.batch_size;
  for (const auto& set : sets) {
    if (set.label.empty() || set.label.find('/') != std::string::npos) {
      throw Error("held-out evaluation: the label '" + set.label + "' must be non-empty and without '/'");
    }
    trainer::TrainingData data;
    data.tokenizer = tokenizer;
    if (options.chat_format) data.chat_template = options.chat_format;
    if (set.block_size > 0) {
      data.valid = corpus_blocks(set, *tokenizer);
    } else {
      data.valid_records = text::read_instruction_jsonl(set.path).records;
      data.valid = text::tokenize_instructions(data.valid_records, *data.chat_template, *tokenizer);
    }
    evaluators_.emplace_back(set.label, std::make_unique<trainer::Evaluator>(
                                            trainer::make_evaluation_set(data, evaluation, options.seed), evaluation,
                                            tokenizer, options.bf16));
  }
}

HeldOutEvaluator::~HeldOutEvaluator() = default;

trainer::Metrics HeldOutEvaluator::evaluate(model::CausalLm& model, trainer::ProcessGroup* group,
                                            std::map<std::string, trainer::ExampleScores>* examples) const {
  trainer::Metrics metrics;
  for (const auto& [label, evaluator] : evaluators_) {
    metrics.merge(evaluator->evaluate(model, group != nullptr ? *group : *single_process_, label,
                                      examples != nullptr ? &(*examples)[label] : nullptr));
  }
  return metrics;
}

}  // namespace ladle::trainer
