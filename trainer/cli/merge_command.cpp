// `ladle merge CONFIG.yml OUT_DIR`: merge models as a mergekit YAML config describes, streaming tensors out of
// core; `ladle merge check CONFIG.yml`: the pre-merge compatibility report (also run before every merge).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "lib/io/safetensors_writer.h"
#include "lib/log/log.h"
#include "lib/merge/input_models.h"
#include "lib/merge/merge_check.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_plan.h"
#include "lib/merge/merged_model_writer.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"
#include "trainer/cli/commands.h"

namespace ladle::cli {
namespace {

struct MergeOptions {
  std::string config;
  std::string output;
  std::string out_shard_size = "5G";
  int threads = 0;
  std::string device = "cpu";
  std::uint64_t seed = 0;
  bool dry_run = false;
  bool overwrite = false;
  std::string check_config;
};

// Logs the report's warnings and notes; with errors, prints the whole report and stops.
void require_clean_check(const merge::MergeCheckReport& report) {
  if (report.has_errors()) {
    std::cerr << report.text();
    throw Error("merge check found " + std::to_string(report.count(merge::CheckSeverity::error)) +
                " error(s) (report above); nothing was written");
  }
  for (const auto& finding : report.findings) {
    if (finding.severity == merge::CheckSeverity::warning) {
      LADLE_LOG(warning) << "[" << finding.topic << "] " << finding.message
                         << (finding.advice.empty() ? "" : " (" + finding.advice + ")");
    } else {
      LADLE_LOG(info) << "[" << finding.topic << "] " << finding.message;
    }
  }
}

void run_merge(const MergeOptions& options) {
  if (options.config.empty() || options.output.empty()) {
    throw Error("usage: ladle merge CONFIG.yml OUT_DIR (or ladle merge check CONFIG.yml)");
  }
  merge::MergedModelWriteOptions write_options;
  write_options.max_shard_bytes = io::parse_byte_size(options.out_shard_size);
  if (write_options.max_shard_bytes == 0) throw Error("--out-shard-size must be positive");
  if (options.threads < 0) throw Error("--threads must be 0 (all cores) or positive");
  write_options.overwrite = options.overwrite;
  write_options.execution.threads = options.threads;
  write_options.execution.device = merge::parse_merge_device(options.device);
  write_options.execution.seed = options.seed;

  const merge::MergeConfig config = merge::load_merge_config(options.config);
  const merge::InputModels models(config);
  require_clean_check(merge::check_merge(config, models));
  const merge::MergePlan plan = merge::plan_merge(config, models);
  if (options.dry_run) {
    std::cout << plan.summary(models) << "dry run: nothing written to " << options.output << "\n";
    return;
  }
  const auto stats = merge::write_merged_model(config, plan, models, options.output, write_options);
  std::cout << "merged " << stats.tensors << " tensors (" << format_bytes(static_cast<double>(stats.bytes_written))
            << ") into " << options.output << " in " << format_duration(stats.seconds) << " ("
            << format_bytes(static_cast<double>(stats.bytes_read + stats.bytes_written) / std::max(stats.seconds, 1e-9))
            << "/s read and written)\n";
}

void run_check(const std::string& path) {
  const merge::MergeConfig config = merge::load_merge_config(path);
  const merge::InputModels models(config);
  const merge::MergeCheckReport report = merge::check_merge(config, models);
  std::cout << report.text();
  if (report.has_errors()) {
    throw Error("merge check found " + std::to_string(report.count(merge::CheckSeverity::error)) + " error(s)");
  }
}

}  // namespace

void add_merge_command(CLI::App& app) {
  auto options = std::make_shared<MergeOptions>();
  auto* command = app.add_subcommand(
      "merge", "Merge models as a mergekit YAML config describes (ladle merge CONFIG.yml OUT_DIR)");
  command->require_subcommand(0, 1);
  command->add_option("config", options->config, "The mergekit YAML config");
  command->add_option("output", options->output, "The folder to write (appears only when complete)");
  command->add_option("--out-shard-size", options->out_shard_size,
                      "Tensor bytes per output shard (K/M/G binary, KB/MB/GB decimal)")
      ->capture_default_str();
  command->add_option("--threads", options->threads,
                      "Tensors merged at once (0: OMP_NUM_THREADS, else every core)")
      ->capture_default_str();
  command->add_option("--device", options->device, "Where the math runs: cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--seed", options->seed, "Seed of the random methods (dare_*, della*)")->capture_default_str();
  command->add_flag("--dry-run", options->dry_run, "Check and print the plan, write nothing");
  command->add_flag("--overwrite", options->overwrite, "Replace OUT_DIR if it exists");

  auto* check = command->add_subcommand(
      "check", "Report whether the models of a config can be merged, and what to do about each problem");
  check->add_option("config", options->check_config, "The mergekit YAML config")->required();
  check->callback([options] { run_check(options->check_config); });

  command->callback([options, check] {
    if (check->parsed()) return;
    run_merge(*options);
  });
}

}  // namespace ladle::cli
