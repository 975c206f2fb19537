#include "trainer/heldout_evaluator.h"

#include "lib/model/causal_lm.h"
#include "lib/text/instruction_dataset.h"
#include "lib/text/instruction_record.h"
#include "lib/util/error.h"
#include "trainer/distributed.h"
#include "trainer/evaluator.h"
#include "trainer/training_data.h"

namespace ladle::trainer {

std::shared_ptr<const text::Tokenizer> load_heldout_tokenizer(const std::filesystem::path& model_folder,
                                                              const std::string& name) {
  trainer::TrainConfig config;
  config.model.path = model_folder;
  if (name == "byte") {
    config.tokenizer.type = trainer::TokenizerKind::byte;
  } else {
    config.tokenizer.path = name;
  }
  return trainer::load_tokenizer(config);
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
    data.valid_records = text::read_instruction_jsonl(set.path).records;
    data.valid = text::tokenize_instructions(data.valid_records, *data.chat_template, *tokenizer);
    evaluators_.emplace_back(set.label, std::make_unique<trainer::Evaluator>(
                                            trainer::make_evaluation_set(data, evaluation, options.seed), evaluation,
                                            tokenizer, options.bf16));
  }
}

HeldOutEvaluator::~HeldOutEvaluator() = default;

trainer::Metrics HeldOutEvaluator::evaluate(model::CausalLm& model, trainer::ProcessGroup* group) const {
  trainer::Metrics metrics;
  for (const auto& [label, evaluator] : evaluators_) {
    metrics.merge(evaluator->evaluate(model, group != nullptr ? *group : *single_process_, label));
  }
  return metrics;
}

}  // namespace ladle::trainer
