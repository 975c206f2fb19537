// `ladle extract-lora BASE FINETUNED OUT_DIR --rank R`: a PEFT LoRA adapter from the difference of two models by
// truncated SVD per module (lib/merge/lora_extraction.h), with mergekit-extract-lora's options; the inverse of
// `ladle merge lora`.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "lib/merge/lora_extraction.h"
#include "lib/util/error.h"
#include "cli/commands.h"

namespace ladle::cli {
namespace {

struct ExtractLoraOptions {
  std::string base;
  std::string finetuned;
  std::string output;
  std::vector<std::string> rank_patterns;  // REGEX=R
  merge::LoraExtractionOptions extraction;
};

// "REGEX=R", split at the last '=' (a regex may hold '=').
merge::LoraRankPattern parse_rank_pattern(const std::string& text) {
  const auto equals = text.rfind('=');
  const std::string rank = equals == std::string::npos ? "" : text.substr(equals + 1);
  const bool digits = !rank.empty() && rank.size() <= 9 && rank.find_first_not_of("0123456789") == std::string::npos;
  if (equals == 0 || !digits) {
    throw Error("--rank-pattern '" + text + "': expected REGEX=RANK, e.g. 'mlp\\.down_proj=16'");
  }
  return {text.substr(0, equals), std::stoll(rank)};
}

void run(ExtractLoraOptions& options) {
  for (const auto& text : options.rank_patterns) options.extraction.rank_patterns.push_back(parse_rank_pattern(text));
  const auto result = merge::extract_lora(options.base, options.finetuned, options.output, options.extraction);
  std::cout << result.table() << "wrote " << options.output << " (adapter, and the table as "
            << merge::kLoraExtractionReportFile << ")\n";
}

}  // namespace

void add_extract_lora_command(CLI::App& app) {
  auto options = std::make_shared<ExtractLoraOptions>();
  auto& extraction = options->extraction;
  auto* command = app.add_subcommand(
      "extract-lora",
      "A PEFT LoRA adapter from the difference of two models, by truncated SVD per module (mergekit-extract-lora)");
  command->add_option("base", options->base, "The base model (Hugging Face folder or .safetensors file)")->required();
  command->add_option("finetuned", options->finetuned, "The fine-tuned model")->required();
  command->add_option("output", options->output, "The adapter folder to write (appears only when complete)")
      ->required();
  command->add_option("--rank", extraction.rank, "Largest rank of a module's factors")->capture_default_str();
  command->add_option("--rank-pattern", options->rank_patterns,
                      "REGEX=R: rank R for the modules REGEX finds (first match wins; repeatable)");
  command->add_option("--include-regex", extraction.include_regexes,
                      "Only modules this regex finds are in the adapter (repeatable)");
  command->add_option("--exclude-regex", extraction.exclude_regexes,
                      "Modules this regex finds are left out of the adapter (repeatable)");
  command->add_flag("--embed-lora", extraction.embed_lora,
                    "Decompose the embeddings too (lora_embedding_A/B) instead of saving them whole");
  command->add_flag("--skip-undecomposable", extraction.skip_undecomposable,
                    "Leave norms and other non-matrix modules out instead of saving them whole (modules_to_save)");
  command->add_flag("--extend-vocab", extraction.extend_vocab,
                    "Keep vocabulary rows the fine-tune added (embeddings saved whole) instead of truncating them");
  command->add_flag("--overwrite", extraction.overwrite, "Replace OUT_DIR if it exists");
  command->callback([options] { run(*options); });
}

}  // namespace ladle::cli
