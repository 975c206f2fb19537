#include "pipelines/evolve/recipe_fitness.h"

#include "trainer/heldout_evaluator.h"
#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::evolve {
namespace {

constexpr const char* kLabel = "fitness";

}  // namespace

RecipeFitness::RecipeFitness(const FitnessConfig& config, const std::filesystem::path& model_folder,
                             c10::Device device)
    : config_(config), model_(model::load_causal_lm(model_folder, device)) {
  trainer::HeldOutEvaluationOptions options;
  options.max_examples = config.max_examples;
  options.generation_examples = config.generation_examples;
  options.batch_size = config.batch_size;
  options.bf16 = config.bf16;
  options.seed = config.seed;
  options.chat_format = trainer::load_heldout_chat_format(model_folder, config.tokenizer);
  evaluator_ = std::make_unique<trainer::HeldOutEvaluator>(
      trainer::load_heldout_tokenizer(model_folder, config.tokenizer),
      std::vector<trainer::HeldOutSet>{{kLabel, config.data}}, options);
}

RecipeFitness::~RecipeFitness() = default;

FitnessScore RecipeFitness::score(const NamedTensors& weights) const {
  model_->load_hf_state_dict(weights, "evolve candidate");
  const trainer::Metrics metrics = evaluator_->evaluate(*model_);
  const std::string prefix = std::string(kLabel) + "/" + config_.metric + "/";
  FitnessScore score;
  double weighted = 0, total_weight = 0;
  for (const auto& [name, value] : metrics) {
    if (!starts_with(name, prefix)) continue;
    const std::string task = name.substr(prefix.size());
    const auto listed = config_.task_weights.find(task);
    const double weight = listed == config_.task_weights.end() ? config_.default_task_weight : listed->second;
    score.per_task[task] = value;
    weighted += weight * value;
    total_weight += weight;
  }
  if (total_weight <= 0) {
    throw Error("evolve fitness: no task of " + config_.data.string() + " has a weight > 0 and a " + config_.metric +
                " value (are the records labelled with `task`?)");
  }
  score.value = (config_.metric == "loss" ? 1.0 : -1.0) * weighted / total_weight;
  return score;
}

std::uint64_t RecipeFitness::memory_bytes() const {
  std::uint64_t bytes = 0;
  for (const auto& tensor : model_->parameters()) bytes += tensor.nbytes();
  for (const auto& tensor : model_->buffers()) bytes += tensor.nbytes();
  // A no-grad forward frees each layer's activations once the next layer has them, so its peak is the logits and
  // their log-softmax, one layer's attention scores and probabilities, its MLP intermediates (gate, up, product)
  // and a few residual-stream tensors, all fp32 (bf16 autocast keeps the loss in fp32 and is not counted lower).
  const model::CausalLmConfig& c = model_->config();
  const auto tokens = static_cast<double>(config_.batch_size) * static_cast<double>(c.max_position_embeddings);
  const double floats_per_token = 2.0 * c.vocab_size + 2.0 * c.num_attention_heads * c.max_position_embeddings +
                                  3.0 * c.intermediate_size + 4.0 * c.hidden_size;
  return bytes + static_cast<std::uint64_t>(tokens * floats_per_token * sizeof(float));
}

}  // namespace ladle::evolve
