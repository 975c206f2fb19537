// RecipeFitness: the score of merged weights on held-out task data, for `ladle evolve`. The weights are loaded into
// one causal LM (built once from the base model's config.json) and evaluated by the trainer's held-out evaluator
// (trainer/heldout_evaluator.h) on the fitness set; the per-task values of the chosen metric are combined as a
// weighted mean, sum_t w_t m_t / sum_t w_t over the tasks present. Lower is better: accuracies enter negated.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "lib/weights/named_tensors.h"
#include "pipelines/evolve/evolve_config.h"

namespace ladle::model {
class CausalLm;
}  // namespace ladle::model

namespace ladle::trainer {
class HeldOutEvaluator;
}  // namespace ladle::trainer

namespace ladle::evolve {

struct FitnessScore {
  double value = 0;                       // the combined fitness (minimised)
  std::map<std::string, double> per_task;  // the metric per task, as the evaluator reports it (not negated)
};

class RecipeFitness {
 public:
  // Tokenizes the fitness data once and builds the model from `model_folder`'s config.json on `device`.
  RecipeFitness(const FitnessConfig& config, const std::filesystem::path& model_folder, c10::Device device = c10::kCPU);
  ~RecipeFitness();
  RecipeFitness(const RecipeFitness&) = delete;
  RecipeFitness& operator=(const RecipeFitness&) = delete;

  FitnessScore score(const NamedTensors& weights) const;

  // An estimate of the peak bytes score() holds beside the merged weights: the model's parameters and buffers and
  // one batch's forward at the model's longest sequence (an upper bound: the data's examples are shorter).
  std::uint64_t memory_bytes() const;

 private:
  FitnessConfig config_;
  std::shared_ptr<model::CausalLm> model_;
  std::unique_ptr<trainer::HeldOutEvaluator> evaluator_;
};

}  // namespace ladle::evolve
