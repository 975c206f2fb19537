// HeldOutEvaluator: held-out scores of weight sets of one architecture (soup candidates, WiSE-FT interpolations)
// on instruction JSONL files, through the trainer's Evaluator (trainer/evaluator.h): loss and perplexity overall
// and per task, and optionally exact match and choice accuracy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lib/weights/named_tensors.h"
#include "trainer/metrics.h"

namespace ladle::model {
class CausalLm;
}  // namespace ladle::model

namespace ladle::trainer {
class Evaluator;
class ProcessGroup;
}  // namespace ladle::trainer

namespace ladle::callbacks {

// One held-out set: metrics are named "<label>/loss", "<label>/loss/<task>", ...
struct HeldOutSet {
  std::string label;           // e.g. "id", "ood"; letters, digits, '_' and '-'
  std::filesystem::path path;  // instruction JSONL (Alpaca or messages lines)
};

struct HeldOutEvaluationOptions {
  // A sentencepiece model, or "byte" for the byte tokenizer; empty: <model folder>/tokenizer.model.
  std::string tokenizer;
  std::size_t max_examples = 256;       // a seeded subset of each set for the loss (0: all)
  std::size_t generation_examples = 0;  // examples whose reply is generated for exact match (0: loss only)
  std::size_t batch_size = 16;          // examples per forward
  bool bf16 = false;                    // bf16 autocast for the forward passes
  std::uint64_t seed = 0;               // picks the subsets
};

class HeldOutEvaluator {
 public:
  // Loads the architecture (and tokenizer) from `model_folder` once; each evaluate() loads weights into it.
  // Throws ladle::Error for a missing tokenizer, an unreadable set or a bad label.
  HeldOutEvaluator(const std::filesystem::path& model_folder, std::vector<HeldOutSet> sets,
                   HeldOutEvaluationOptions options = {});
  ~HeldOutEvaluator();
  HeldOutEvaluator(const HeldOutEvaluator&) = delete;
  HeldOutEvaluator& operator=(const HeldOutEvaluator&) = delete;

  // Copies `weights` (Hugging Face names, every parameter of the model) into the model and evaluates every set.
  trainer::Metrics evaluate(const NamedTensors& weights);

 private:
  std::shared_ptr<model::CausalLm> model_;
  std::vector<std::pair<std::string, std::unique_ptr<trainer::Evaluator>>> evaluators_;
  std::unique_ptr<trainer::ProcessGroup> group_;
};

}  // namespace ladle::callbacks
