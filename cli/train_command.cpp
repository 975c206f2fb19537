// `ladle train --config train.yml [--set key=value ...] [--resume DIR]`: trains a causal LM as the config says
// (trainer/train_config.h lists the keys), data-parallel when started under torchrun's environment variables, with
// the callbacks its `averaging:` and `callbacks:` turn on (the Trainer makes them: trainer/callback_registry.h).
// `ladle train --list-callbacks` prints the callback types a config can name, `ladle train --help-config [--markdown]`
// every key of the config (its section of docs/config.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "callbacks/averaging_config.h"
#include "cli/commands.h"
#include "cli/config_options.h"
#include "lib/config/schema.h"
#include "trainer/callback_registry.h"
#include "trainer/distributed.h"
#include "trainer/train_config.h"
#include "trainer/trainer.h"

namespace ladle::cli {
namespace {

struct TrainOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string resume;
  bool list_callbacks = false;
};

const char* const kTrainConfigIntro =
    "A training run (trainer/train_config.h; examples/train-tiny.yml is one). The keys are declared in "
    "`train_config_schema()` (trainer/train_config.cpp), the averaging callbacks' in callbacks/averaging_config.cpp; "
    "a `callbacks:` entry takes the same keys as the `averaging:` sub-section of its type "
    "(`- {type: ema, decay: 0.999}`).";

// The training config's keys, with the options of the built-in averaging callbacks under `averaging`.
std::vector<config::KeyReference> train_config_keys() {
  return config::expanded(trainer::train_config_schema().reference(), "averaging", callbacks::averaging_reference());
}

void print_callback_types() {
  for (const auto& type : trainer::registered_callback_types()) {
    std::cout << std::left << std::setw(10) << type.name << " " << type.description << "\n";
  }
}

void print_result(const trainer::TrainResult& result) {
  std::cout << "trained " << result.steps << " steps\n";
  std::cout << "final model: " << result.final_model_dir.string() << "\n";
  if (!result.last_checkpoint.empty()) std::cout << "last checkpoint: " << result.last_checkpoint.string() << "\n";
  for (const auto& [name, value] : result.metrics) {
    // Summary metrics only ("eval/loss", not "eval/loss/<task>").
    if (std::count(name.begin(), name.end(), '/') == 1) {
      std::cout << name << ": " << std::setprecision(6) << value << "\n";
    }
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* command = app.add_subcommand(
      "train", "Fine-tune (full or LoRA) or pretrain a causal LM from a YAML config, with evaluation and checkpoints");
  command->add_option("--config", options->config, "The training config (YAML; see examples/train-tiny.yml)");
  add_set_option(*command, options->overrides);
  command->add_option("--resume", options->resume,
                      "Continue from the latest complete checkpoint in this folder (an output_dir, its checkpoints/ "
                      "folder or one checkpoint)");
  command->add_flag("--list-callbacks", options->list_callbacks,
                    "Print the callback types that `averaging:` and `callbacks:` can name, and exit");
  add_help_config_option(*command, {"`ladle train`: the training config", kTrainConfigIntro, train_config_keys});
  command->callback([options, &app] {
    if (options->list_callbacks) {
      print_callback_types();
      return;
    }
    if (options->config.empty()) throw CLI::RequiredError("--config (or --list-callbacks)");
    auto config = trainer::TrainConfig::from_yaml_file(options->config, options->overrides);
    // The global --threads, when given, wins over the config's threads key.
    if (const auto* threads = app.get_option_no_throw("--threads"); threads != nullptr && threads->count() > 0) {
      config.threads = threads->as<int>();
    }
    trainer::Trainer trainer(config);
    const auto resume = options->resume.empty() ? std::nullopt : std::optional<std::filesystem::path>(options->resume);
    const auto result = trainer.train(resume);
    if (trainer.state().is_main_process()) print_result(result);
  });
}

}  // namespace ladle::cli
