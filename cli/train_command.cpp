// `ladle train --config train.yml [--set key=value ...] [--resume DIR]`: trains a causal LM as the config says
// (trainer/train_config.h lists the keys), data-parallel when started under torchrun's environment variables, with
// the averaging callbacks its `averaging:` section asks for (callbacks/averaging_config.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "callbacks/averaging_config.h"
#include "cli/commands.h"
#include "trainer/distributed.h"
#include "trainer/train_config.h"
#include "trainer/trainer.h"

namespace ladle::cli {
namespace {

struct TrainOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string resume;
};

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
  command->add_option("--config", options->config, "The training config (YAML; see examples/train-tiny.yml)")
      ->required();
  command
      ->add_option("--set", options->overrides,
                   "Override a config key, key=value with a dotted key and a YAML value, e.g. optimizer.lr=3e-4 "
                   "(repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--resume", options->resume,
                      "Continue from the latest complete checkpoint in this folder (an output_dir, its checkpoints/ "
                      "folder or one checkpoint)");
  command->callback([options, &app] {
    auto config = trainer::TrainConfig::from_yaml_file(options->config, options->overrides);
    // The global --threads, when given, wins over the config's threads key.
    if (const auto* threads = app.get_option_no_throw("--threads"); threads != nullptr && threads->count() > 0) {
      config.threads = threads->as<int>();
    }
    // Checked before the Trainer loads the model and data, so a typo in the section fails at once.
    const auto averaging = callbacks::AveragingConfig::from_json(config.averaging.section, config.averaging.source,
                                                                 config.averaging.base_dir);
    trainer::Trainer trainer(config);
    for (auto& callback : callbacks::make_averaging_callbacks(averaging)) trainer.add_callback(std::move(callback));
    const auto resume = options->resume.empty() ? std::nullopt : std::optional<std::filesystem::path>(options->resume);
    const auto result = trainer.train(resume);
    if (trainer.state().is_main_process()) print_result(result);
  });
}

}  // namespace ladle::cli
