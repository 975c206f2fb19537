#include "cli/heldout_options.h"

#include <CLI/CLI.hpp>

#include <vector>

namespace ladle::cli {

void add_heldout_options(CLI::App& command, HeldOutOptions& options, const std::string& valid_help) {
  command.add_option("--valid", options.valid, valid_help);
  command.add_option("--tokenizer", options.tokenizer,
                     "tokenizer folder or file, or 'byte' (default: the model folder's)");
  command.add_option("--max-examples", options.max_examples, "Held-out examples (0: all)")->capture_default_str();
  command.add_flag("--bf16", options.bf16, "bf16 autocast for the held-out forward passes");
}

std::unique_ptr<trainer::HeldOutEvaluator> make_heldout_evaluator(const HeldOutOptions& options,
                                                                  const std::filesystem::path& model_folder) {
  if (options.valid.empty()) return nullptr;
  trainer::HeldOutEvaluationOptions evaluation;
  evaluation.max_examples = options.max_examples;
  evaluation.bf16 = options.bf16;
  evaluation.chat_format = trainer::load_heldout_chat_format(model_folder, options.tokenizer);
  return std::make_unique<trainer::HeldOutEvaluator>(trainer::load_heldout_tokenizer(model_folder, options.tokenizer),
                                                     std::vector<trainer::HeldOutSet>{{"valid", options.valid}},
                                                     evaluation);
}

}  // namespace ladle::cli
