// `ladle dtm --config dtm.yml`: the Disperse-Then-Merge pipeline (pipelines/dtm/dtm_pipeline.h) with its baselines
// and report; `--jobs N` trains (and evaluates) N runs (models) at once as child processes, `--only-run NAME` /
// `--only-cluster k` train single runs (one scheduler job each), `--only-evaluate NAME` evaluates one model,
// `--until STAGE` stops early, `--no-train` only merges, evaluates and reports runs trained elsewhere. `--set
// KEY=VALUE` overrides a key of dtm.yml (child processes get the same); `--help-config` prints every key.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "lib/util/error.h"
#include "lib/util/threads.h"
#include "cli/commands.h"
#include "cli/config_options.h"
#include "lib/config/schema.h"
#include "pipelines/dtm/dtm_config.h"
#include "pipelines/dtm/dtm_pipeline.h"

namespace ladle::cli {
namespace {

struct DtmOptions {
  std::string config;
  std::vector<std::string> overrides;
  int jobs = 1;
  std::vector<std::string> only_runs;
  std::optional<std::int64_t> only_cluster;
  std::vector<std::string> only_models;
  std::string until = "report";
  bool no_train = false;
};

const char* const kDtmConfigIntro =
    "A Disperse-Then-Merge experiment (pipelines/dtm/dtm_config.h; examples/dtm.yml is one): `train` and one "
    "held-out set are required. `--set train.optimizer.lr=3e-4` sets a key of an inline training config. The keys "
    "are declared in `dtm_config_schema()` (pipelines/dtm/dtm_config.cpp).";

void run_dtm(const DtmOptions& options, const CLI::App& app) {
  using namespace dtm;
  if (options.jobs < 1) throw Error("--jobs must be at least 1, got " + std::to_string(options.jobs));
  DtmPipelineOptions pipeline;
  pipeline.jobs = options.jobs;
  pipeline.only_runs = options.only_runs;
  pipeline.only_cluster = options.only_cluster;
  pipeline.only_models = options.only_models;
  pipeline.no_train = options.no_train;
  const auto until = parse_dtm_stage(options.until);
  if (!until) throw Error("--until must be embed, cluster, train, merge, evaluate or report, got '" + options.until + "'");
  pipeline.until = *until;
  pipeline.executable = std::filesystem::read_symlink("/proc/self/exe");

  // Children share this process's cores; the global --threads, when given, also wins over the config's threads
  // key in the runs this process trains (as in `ladle train`).
  const auto* threads_option = app.get_option_no_throw("--threads");
  const bool threads_given = threads_option != nullptr && threads_option->count() > 0;
  const int threads = configure_threads(threads_given ? threads_option->as<int>() : 0);
  pipeline.global_args = {"--threads", std::to_string(std::max(1, threads / options.jobs)), "--log-level",
                          app.get_option("--log-level")->as<std::string>()};
  if (threads_given) pipeline.run_overrides.push_back("threads=" + std::to_string(threads));

  DtmPipeline dtm(DtmConfig::from_yaml_file(options.config, options.overrides), pipeline);
  const std::string report = dtm.run();
  if (!report.empty()) {
    std::cout << report << "\nreport: " << (dtm.layout().report_dir() / "report.md").string() << "\n";
  } else {
    std::cout << "stopped after the " << options.until << " stage (" << dtm.layout().root.string() << ")\n";
  }
}

}  // namespace

void add_dtm_command(CLI::App& app) {
  auto options = std::make_shared<DtmOptions>();
  auto* command = app.add_subcommand(
      "dtm", "Disperse-Then-Merge: cluster the instruction data, fine-tune a sub-model per cluster, merge them, "
             "evaluate against the baselines and write a report (examples/dtm.yml)");
  command->add_option("--config", options->config, "The DTM config (YAML; see examples/dtm.yml)")->required();
  add_set_option(*command, options->overrides);
  add_help_config_option(*command, {"`ladle dtm`: the Disperse-Then-Merge config", kDtmConfigIntro,
                                    [] { return dtm::dtm_config_schema().reference(); }});
  command->add_option("--jobs", options->jobs, "Runs trained (and models evaluated) at once, each a child process")->capture_default_str();
  command
      ->add_option("--only-run", options->only_runs,
                   "Train only this run (kmeans-K, random-K, vanilla, soup-K; suffixed -seedS in a replicate S > 0) in "
                   "this process, then stop (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--only-cluster", options->only_cluster,
                      "Train only the runs with this index (kmeans-K, random-K, soup-K), then stop: one job of a "
                      "scheduler's job array");
  command
      ->add_option("--only-evaluate", options->only_models,
                   "Evaluate only this model (base, vanilla, dtm-kmeans, dtm-random, soup; suffixed -seedS in a "
                   "replicate S > 0) in this process, then stop (repeatable; the merge stage must be done)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--until", options->until, "Last stage: embed, cluster, train, merge, evaluate or report")
      ->capture_default_str();
  command->add_flag("--no-train", options->no_train,
                    "Train nothing: merge, evaluate and report runs trained by other jobs (fails naming missing ones)");
  command->callback([options, &app] { run_dtm(*options, app); });
}

}  // namespace ladle::cli
