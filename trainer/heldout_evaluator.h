// HeldOutEvaluator: held-out scores of a model on instruction JSONL files (soup candidates, WiSE-FT
// interpolations, a shifted set beside the trainer's own held-out set), through the trainer's Evaluator
// (trainer/evaluator.h): loss and perplexity overall and per task, and optionally exact match and choice accuracy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "trainer/example_scores.h"
#include "trainer/metrics.h"

namespace ladle::model {
class CausalLm;
}  // namespace ladle::model

namespace ladle::text {
class ChatFormat;
class Tokenizer;
}  // namespace ladle::text

namespace ladle::trainer {
class Evaluator;
class ProcessGroup;
struct TrainConfig;
}  // namespace ladle::trainer

namespace ladle::trainer {

// One held-out set: metrics are named "<label>/loss", "<label>/loss/<task>", ...
struct HeldOutSet {
  std::string label;           // e.g. "id", "ood"; not empty, no '/'
  std::filesystem::path path;  // instruction JSONL (Alpaca or messages lines), or plain text (below)
  // 0: `path` is instruction JSONL. Else it is a plain-text corpus (lib/text/corpus_tokens.h: a paragraph per line,
  // documents between blank lines) scored by its loss over consecutive blocks of block_size + 1 tokens
  // (lib/text/token_block_dataset.h; task "corpus"), e.g. text of the base model's pretraining distribution.
  std::size_t block_size = 0;
};

struct HeldOutEvaluationOptions {
  std::size_t max_examples = 256;       // a seeded subset of each set for the loss (0: all)
  std::size_t generation_examples = 0;  // examples whose reply is generated for exact match (0: loss only)
  std::size_t batch_size = 16;          // examples per forward
  bool bf16 = false;                    // bf16 autocast for the forward passes
  std::uint64_t seed = 0;               // picks the subsets
  // How instruction sets are rendered into tokens: a model's own chat template (load_heldout_chat_format), or,
  // when null, Tulu v2's (text::ChatTemplate), as for a model without one.
  std::shared_ptr<const text::ChatFormat> chat_format;
};

// The tokenizer of a model folder: `name` is a tokenizer folder or file (text::open_tokenizer), "byte" for the byte
// tokenizer, or empty for the one model_folder holds. Throws ladle::Error when there is none.
std::shared_ptr<const text::Tokenizer> load_heldout_tokenizer(const std::filesystem::path& model_folder,
                                                              const std::string& name);

// The chat format that renders held-out instruction sets as `config` renders its training data (load_chat_format:
// the model folder's own template, else the tokenizer folder's, else Tulu v2's; data.chat_template: tulu forces
// Tulu), except that held-out examples are scored whole (no max_length) on their replies.
std::shared_ptr<const text::ChatFormat> heldout_chat_format(const TrainConfig& config);

// heldout_chat_format for a model folder and a tokenizer named as for load_heldout_tokenizer.
std::shared_ptr<const text::ChatFormat> load_heldout_chat_format(const std::filesystem::path& model_folder,
                                                                 const std::string& name);

class HeldOutEvaluator {
 public:
  // Reads and tokenizes every set once. Throws ladle::Error for an unreadable set or a bad label.
  HeldOutEvaluator(std::shared_ptr<const text::Tokenizer> tokenizer, const std::vector<HeldOutSet>& sets,
                   HeldOutEvaluationOptions options = {});
  ~HeldOutEvaluator();
  HeldOutEvaluator(const HeldOutEvaluator&) = delete;
  HeldOutEvaluator& operator=(const HeldOutEvaluator&) = delete;

  // Evaluates the model's current weights on every set (collective over `group`; a single process needs none).
  // With `examples`, also every example's score per set label (trainer/evaluator.h; a single process only).
  trainer::Metrics evaluate(model::CausalLm& model, trainer::ProcessGroup* group = nullptr,
                            std::map<std::string, trainer::ExampleScores>* examples = nullptr) const;

 private:
  std::vector<std::pair<std::string, std::unique_ptr<trainer::Evaluator>>> evaluators_;
  std::unique_ptr<trainer::ProcessGroup> single_process_;
};

}  // namespace ladle::trainer
