// `ladle evolve --config evolve.yml`: a CMA-ES search for a merge recipe (pipelines/evolve/evolve_run.h): one progress
// line per generation, every candidate in candidates.jsonl, resumable after a kill (run the same command again), and
// at the end the best recipe as mergekit YAML plus the merged model. `--stop-after-generations N` stops early, as a
// kill would, for testing the resume. `--set KEY=VALUE` overrides a key of evolve.yml, `--help-config` prints every
// key.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/config_options.h"
#include "lib/config/schema.h"
#include "pipelines/evolve/evolve_config.h"
#include "pipelines/evolve/evolve_run.h"

namespace ladle::cli {
namespace {

struct EvolveOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::int64_t stop_after_generations = 0;
  bool no_model = false;
};

const char* const kEvolveConfigIntro =
    "A CMA-ES search for a merge recipe (pipelines/evolve/evolve_config.h; bench/evolve/evolve.yml is one): "
    "`merge`, `genome` and `fitness.data` are required, and a resumed run must have the same config and `--set` "
    "overrides. The keys are declared in `evolve_config_schema()` (pipelines/evolve/evolve_config.cpp).";

void run_evolve(const EvolveOptions& options) {
  const auto config = evolve::EvolveConfig::from_yaml_file(options.config, options.overrides);
  evolve::EvolveRunOptions run_options;
  run_options.stop_after_generations = options.stop_after_generations;
  run_options.write_model = !options.no_model;
  const auto outcome = evolve::run_evolve(config, run_options);
  if (!outcome.finished) {
    std::cout << "stopped after generation " << outcome.generations << " (" << outcome.evaluations
              << " candidates); run the same command again to resume\n";
    return;
  }
  std::cout << "evolve: " << outcome.stop_reason << " after " << outcome.generations << " generations, "
            << outcome.evaluations << " candidates; best fitness " << outcome.best_fitness << "\nrecipe: "
            << (config.output_dir / "recipe.yml").string()
            << (options.no_model ? "" : "\nmodel: " + (config.output_dir / "model").string()) << "\n";
}

}  // namespace

void add_evolve_command(CLI::App& app) {
  auto options = std::make_shared<EvolveOptions>();
  auto* command = app.add_subcommand(
      "evolve", "Search merge recipes with CMA-ES on held-out task data (pipelines/evolve/evolve_config.h)");
  command->add_option("--config", options->config, "The evolve config (YAML; see bench/evolve/evolve.yml)")->required();
  add_set_option(*command, options->overrides);
  add_help_config_option(*command, {"`ladle evolve`: the merge-recipe search config", kEvolveConfigIntro,
                                    [] { return evolve::evolve_config_schema().reference(); }});
  command->add_option("--stop-after-generations", options->stop_after_generations,
                      "Stop once this many generations are done, without the final outputs (resume by running again)");
  command->add_flag("--no-model", options->no_model, "Write the recipe but not the merged model");
  command->callback([options] { run_evolve(*options); });
}

}  // namespace ladle::cli
