// The held-out evaluation options of the commands that score each model they write (posthoc-ema,
// merge-checkpoints): --valid FILE, --tokenizer, --max-examples, --bf16, read into one struct and turned into a
// trainer::HeldOutEvaluator (metrics "valid/loss", "valid/perplexity", per task).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "trainer/heldout_evaluator.h"

namespace CLI {
class App;
}

namespace ladle::cli {

struct HeldOutOptions {
  std::string valid;               // held-out instruction JSONL; empty: no evaluation
  std::string tokenizer;           // tokenizer folder or file, or "byte"; empty: the model folder's
  std::size_t max_examples = 256;  // the seeded subset evaluated (0: all)
  bool bf16 = false;               // bf16 autocast for the forward passes
};

// Adds the four options to `command`; `valid_help` says what --valid does for this command.
void add_heldout_options(CLI::App& command, HeldOutOptions& options, const std::string& valid_help);

// The evaluator of --valid with the tokenizer of `model_folder` (or --tokenizer); null without --valid.
std::unique_ptr<trainer::HeldOutEvaluator> make_heldout_evaluator(const HeldOutOptions& options,
                                                                  const std::filesystem::path& model_folder);

}  // namespace ladle::cli
