// `ladle soup OUT_DIR MODEL MODEL [...]`: the uniform soup of fine-tuned models of one architecture (Hugging Face
// folders), streamed tensor by tensor; with --greedy, Wortsman et al.'s greedy soup, scored on held-out data.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "trainer/heldout_evaluator.h"
#include "lib/io/model_folder.h"
#include "callbacks/model_soup.h"
#include "lib/io/safetensors_writer.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/device.h"
#include "lib/util/error.h"
#include "lib/util/malloc_tuning.h"
#include "cli/byte_size_validator.h"
#include "cli/commands.h"
#include "cli/device_option.h"

namespace ladle::cli {
namespace {

struct SoupOptions {
  std::string output;
  std::vector<std::string> models;
  bool greedy = false;
  std::string valid;
  std::string metric = "loss";
  std::string tokenizer;
  std::size_t max_examples = 256;
  std::size_t generation_examples = 64;
  bool bf16 = false;
  std::string device = "cpu";  // where the greedy soup's scoring model runs
  std::string out_shard_size = "5G";
  bool overwrite = false;
  bool allow_nonfinite = false;
};

// Whether a larger value of the held-out metric is better (accuracies) or worse (loss, perplexity).
bool higher_is_better(const std::string& metric) {
  if (metric == "loss" || metric == "perplexity") return false;
  if (metric == "exact_match" || metric == "choice_accuracy") return true;
  throw Error("--metric must be loss, perplexity, exact_match or choice_accuracy, got '" + metric + "'");
}

void run_soup(const SoupOptions& options) {
  if (options.models.size() < 2) throw Error("a soup needs at least two models, got " + std::to_string(options.models.size()));
  io::CheckpointWriteOptions write_options;
  write_options.max_shard_bytes = io::parse_byte_size(options.out_shard_size);
  write_options.overwrite = options.overwrite;
  const std::vector<std::filesystem::path> candidates(options.models.begin(), options.models.end());
  callbacks::SoupInputOptions input;
  input.allow_nonfinite = options.allow_nonfinite;
  if (!options.greedy) {
    if (!options.valid.empty()) throw Error("--valid is used by --greedy only: a uniform soup needs no scores");
    callbacks::uniform_soup(candidates, options.output, write_options, input);
    std::cout << "wrote the uniform soup of " << candidates.size() << " models to " << options.output << "\n";
    return;
  }
  if (options.valid.empty()) throw Error("--greedy needs held-out data to score the soups: give --valid FILE.jsonl");
  // Every scored batch allocates and frees the same logits and activations: keep them for the next batch instead of
  // faulting them in again (lib/util/malloc_tuning.h).
  retain_freed_memory();
  callbacks::GreedySoupOptions greedy_options;
  greedy_options.higher_is_better = higher_is_better(options.metric);
  trainer::HeldOutEvaluationOptions evaluation;
  evaluation.max_examples = options.max_examples;
  const bool generates = options.metric == "exact_match" || options.metric == "choice_accuracy";
  evaluation.generation_examples = generates ? options.generation_examples : 0;
  evaluation.bf16 = options.bf16;
  const std::filesystem::path folder = io::model_folder_of(candidates.front());
  evaluation.chat_format = trainer::load_heldout_chat_format(folder, options.tokenizer);
  const trainer::HeldOutEvaluator evaluator(trainer::load_heldout_tokenizer(folder, options.tokenizer),
                                              {{"valid", options.valid}}, evaluation);
  const auto model = model::load_causal_lm(folder, model::resolve_device(options.device, "--device"));
  const std::string metric = "valid/" + options.metric;
  const auto result = callbacks::greedy_soup(
      candidates,
      [&](const NamedTensors& weights) {
        model->load_hf_state_dict(weights, "soup candidate");
        const auto metrics = evaluator.evaluate(*model);
        const auto found = metrics.find(metric);
        if (found == metrics.end()) throw Error("the held-out evaluation gave no " + metric);
        return found->second;
      },
      greedy_options, input);
  io::write_model_folder(options.output, result.weights, candidates.front(), write_options);
  std::cout << callbacks::describe_greedy_soup(result, options.models);
  std::cout << "wrote the greedy soup (" << metric << " " << result.score << ") to " << options.output << "\n";
}

}  // namespace

void add_soup_command(CLI::App& app) {
  auto options = std::make_shared<SoupOptions>();
  auto* command = app.add_subcommand(
      "soup", "Average fine-tuned models into one (uniform soup, or greedy soup scored on held-out data)");
  command->add_option("output", options->output, "The folder to write (appears only when complete)")->required();
  command->add_option("models", options->models, "Two or more Hugging Face model folders of one architecture")
      ->required()
      ->expected(2, -1);
  command->add_flag("--greedy", options->greedy,
                    "Greedy soup (Wortsman et al. 2022): add models best-first, keep each only when the soup's "
                    "held-out score strictly improves");
  command->add_option("--valid", options->valid, "Held-out instruction JSONL that scores the greedy soup");
  command->add_option("--metric", options->metric,
                      "The held-out metric: loss or perplexity (lower is better), exact_match or choice_accuracy")
      ->capture_default_str();
  command->add_option("--tokenizer", options->tokenizer,
                      "tokenizer folder or file, or 'byte' (default: the first model's folder)");
  command->add_option("--max-examples", options->max_examples, "Held-out examples for the loss (0: all)")
      ->capture_default_str();
  command->add_option("--generation-examples", options->generation_examples,
                      "Held-out examples generated for exact_match / choice_accuracy")
      ->capture_default_str();
  command->add_flag("--bf16", options->bf16, "bf16 autocast for the held-out forward passes");
  add_device_option(*command, options->device,
                    "Where the greedy soup's scoring model runs (the averaging itself streams on the CPU)");
  command->add_option("--out-shard-size", options->out_shard_size,
                      "Tensor bytes per output shard (K/M/G binary, KB/MB/GB decimal)")
      ->check(positive_byte_size())
      ->capture_default_str();
  command->add_flag("--overwrite", options->overwrite, "Replace OUT_DIR if it exists");
  command->add_flag("--allow-nonfinite", options->allow_nonfinite,
                    "Average candidates that hold NaN or Inf (by default the first such tensor is an error)");
  command->callback([options] { run_soup(*options); });
}

}  // namespace ladle::cli
