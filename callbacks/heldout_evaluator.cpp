#include "callbacks/heldout_evaluator.h"

#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/text/instruction_dataset.h"
#include "lib/text/instruction_record.h"
#include "lib/util/error.h"
#include "trainer/distributed.h"
#include "trainer/evaluator.h"
#include "trainer/training_data.h"

namespace ladle::callbacks {

HeldOutEvaluator::HeldOutEvaluator(const std::filesystem::path& model_folder, std::vector<HeldOutSet> sets,
                                   HeldOutEvaluationOptions options)
    : model_(model::load_causal_lm(model_folder)), group_(std::make_unique<trainer::ProcessGroup>()) {
  if (sets.empty()) throw Error("held-out evaluation: no held-out set given");
  trainer::TrainConfig config;
  config.model.path = model_folder;
  if (options.tokenizer == "byte") {
    config.tokenizer.type = trainer::TokenizerKind::byte;
  } else {
    config.tokenizer.path = options.tokenizer;
  }
  const std::shared_ptr<const text::Tokenizer> tokenizer = trainer::load_tokenizer(config);

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
    data.valid = text::tokenize_instructions(data.valid_records, data.chat_template, *tokenizer);
    evaluators_.emplace_back(set.label, std::make_unique<trainer::Evaluator>(
                                            trainer::make_evaluation_set(data, evaluation, options.seed), evaluation,
                                            tokenizer, options.bf16));
  }
}

HeldOutEvaluator::~HeldOutEvaluator() = default;

trainer::Metrics HeldOutEvaluator::evaluate(const NamedTensors& weights) {
  model_->load_hf_state_dict(weights, "weights to evaluate");
  trainer::Metrics metrics;
  for (const auto& [label, evaluator] : evaluators_) metrics.merge(evaluator->evaluate(*model_, *group_, label));
  return metrics;
}

}  // namespace ladle::callbacks
