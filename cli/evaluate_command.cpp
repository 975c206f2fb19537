// `ladle evaluate MODEL_DIR... --data FILE.jsonl [--label NAME=DIR ...] [--output scores.jsonl]`: scores model
// folders (a fine-tune, a merge, the base) on one held-out instruction set with the held-out evaluator
// (trainer/model_folder_scores.h: each folder's own tokenizer and chat template, else Tulu v2), prints a table of
// every task's loss and accuracy per model, and writes one JSON line per model with --output.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "lib/io/atomic_file.h"
#include "lib/log/log.h"
#include "lib/model/device.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"
#include "lib/util/malloc_tuning.h"
#include "pipelines/dtm/dtm_report.h"
#include "trainer/model_folder_scores.h"
#include "trainer/train_config.h"
#include "cli/commands.h"
#include "cli/device_option.h"

namespace ladle::cli {
namespace {

struct EvaluateOptions {
  std::vector<std::string> folders;  // labelled by the path as given
  std::vector<std::string> labelled;  // NAME=DIR
  std::string data;
  std::string output;
  // The defaults of a train config's evaluation section (trainer/train_config.h).
  std::size_t max_examples = trainer::EvaluationConfig{}.max_examples;
  std::size_t generation_examples = trainer::EvaluationConfig{}.generation_examples;
  std::size_t batch_size = trainer::EvaluationConfig{}.batch_size;
  std::uint64_t seed = 0;
  bool bf16 = false;
  std::string tokenizer;
  std::string device = "cpu";
};

std::vector<trainer::LabelledModelFolder> models_of(const EvaluateOptions& options) {
  std::vector<trainer::LabelledModelFolder> models;
  for (const auto& folder : options.folders) models.push_back({folder, folder});
  for (const auto& entry : options.labelled) {
    const auto equals = entry.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == entry.size()) {
      throw Error("--label expects NAME=DIR, got '" + entry + "'");
    }
    models.push_back({entry.substr(0, equals), entry.substr(equals + 1)});
  }
  return models;
}

void run_evaluate(const EvaluateOptions& options) {
  const auto models = models_of(options);
  trainer::check_model_folder_inputs(models, options.data);
  model::resolve_device(options.device, "--device");
  // Every scored batch allocates and frees the same logits and activations: keep them for the next batch instead of
  // faulting them in again (lib/util/malloc_tuning.h).
  retain_freed_memory();
  trainer::ModelFolderEvaluationOptions evaluation;
  evaluation.heldout.max_examples = options.max_examples;
  evaluation.heldout.generation_examples = options.generation_examples;
  evaluation.heldout.batch_size = options.batch_size;
  evaluation.heldout.bf16 = options.bf16;
  evaluation.heldout.seed = options.seed;
  evaluation.tokenizer = options.tokenizer;
  evaluation.device = options.device;
  std::vector<dtm::ModelScores> table;
  std::string lines;
  for (const auto& model : models) {
    const auto start = std::chrono::steady_clock::now();
    const auto scores = trainer::evaluate_model_folder(model, options.data, evaluation);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    LADLE_LOG(info) << "evaluated " << model.label << " in " << format_duration(took.count());
    lines += trainer::model_folder_scores_json(scores).dump() + "\n";
    dtm::ModelScores column;
    column.name = column.title = model.label;
    column.metrics = scores.metrics;
    table.push_back(std::move(column));
  }
  std::cout << dtm::results_table(table, trainer::kModelFolderSet);
  if (!options.output.empty()) {
    io::write_file_atomically(options.output, lines);
    std::cout << "wrote " << models.size() << " line(s) to " << options.output << "\n";
  }
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto options = std::make_shared<EvaluateOptions>();
  auto* command = app.add_subcommand(
      "evaluate", "Score model folders on a held-out instruction set: loss and accuracy per task, one JSON line each");
  command->add_option("models", options->folders, "Model folders, each labelled by its path as given");
  command->add_option("--label", options->labelled, "A model folder with its label: NAME=DIR (repeatable)");
  command->add_option("--data", options->data, "Held-out instruction JSONL (a task per record)")->required();
  command->add_option("--max-examples", options->max_examples, "A seeded subset of the data for the loss (0: all)")
      ->capture_default_str();
  command
      ->add_option("--generation-examples", options->generation_examples,
                   "Examples of that subset whose reply is generated for the accuracy (0: loss only)")
      ->capture_default_str();
  command->add_option("--batch-size", options->batch_size, "Examples per forward")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Picks the subsets")->capture_default_str();
  command->add_flag("--bf16", options->bf16, "bf16 autocast for the forward passes");
  command->add_option("--tokenizer", options->tokenizer,
                      "tokenizer folder or file, or 'byte' (default: each model folder's)");
  add_device_option(*command, options->device, "Where the models run");
  command->add_option("--output", options->output, "Write one JSON line per model here (atomically)");
  command->callback([options] { run_evaluate(*options); });
}

}  // namespace ladle::cli
