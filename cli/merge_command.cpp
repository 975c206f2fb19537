// `ladle merge CONFIG.yml OUT_DIR`: merge models as a mergekit YAML config describes, streaming tensors out of
// core; `ladle merge check CONFIG.yml`: the pre-merge compatibility report (also run before every merge);
// `ladle merge lora BASE ADAPTER OUT_DIR`: a PEFT adapter merged into its base; `ladle merge lora-adapters
// CONFIG.yml OUT_DIR`: several adapters merged in ΔW space, written as an adapter or a full model.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <optional>

#include "lib/io/safetensors_writer.h"
#include "lib/log/log.h"
#include "lib/merge/input_models.h"
#include "lib/merge/lora_merge.h"
#include "lib/merge/merge_check.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_plan.h"
#include "lib/merge/merged_model_writer.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"
#include "cli/commands.h"

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

struct LoraOptions {
  std::string base;
  std::string adapter;
  std::string output;
  std::string out_shard_size = "5G";
  bool overwrite = false;
};

struct LoraAdaptersOptions {
  std::string config;
  std::string output;
  std::optional<std::int64_t> rank;
  std::string full_model;
  std::uint64_t seed = 0;
  std::string out_shard_size = "5G";
  bool overwrite = false;
};

constexpr const char* kLoraAdaptersHelp = R"(
Merges PEFT LoRA adapters with any merge method in delta-W space: per adapted module, the method runs on each
adapter's update dW = (lora_alpha/r)·B·A (never on A and B apart: mean(B)·mean(A) is not mean(B·A)). Methods
that need a base (task_arithmetic, ties, dare_*, ...) get a zero base, so the dWs are the task vectors.

CONFIG.yml is mergekit-style, with adapter folders (adapter_config.json + adapter_model.safetensors) as models:
  merge_method: ties
  models:
    - model: ./adapter-math
      parameters: {weight: 0.6, density: 0.5}
    - model: ./adapter-code
      parameters: {weight: 0.4, density: 0.5}
  parameters: {lambda: 1.0}     # method-wide values, and defaults for every adapter
  base_model: ./llama           # optional: write a full model (same as --full-model)
  dtype: float32                # working dtype (default float32)
  out_dtype: bfloat16           # stored dtype (default: the adapter's, or each base tensor's)
Parameter filters match module weight names (model.layers.3.self_attn.q_proj.weight); gradients run over layers.
The adapters must adapt the same modules with the same shapes; their ranks may differ.

Output: without a base model, a PEFT adapter re-factorised by truncated SVD at --rank k (default: the sum of
the adapters' ranks), B' = U_k·diag(S_k), A' = V_k^T, r = lora_alpha = k (scale 1); the energy kept (sum of
kept squared singular values / sum of all) is printed per module and overall. With a base model: that model
with the merged update added, as a Hugging Face folder (config and tokenizer from the base).)";

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

void run_lora(const LoraOptions& options) {
  merge::UpdatedModelWriteOptions write_options;
  write_options.max_shard_bytes = io::parse_byte_size(options.out_shard_size);
  if (write_options.max_shard_bytes == 0) throw Error("--out-shard-size must be positive");
  write_options.overwrite = options.overwrite;
  const auto stats = merge::merge_lora_into_model(options.base, options.adapter, options.output, write_options);
  std::cout << "merged the adapter into " << stats.updated << " of " << stats.tensors << " tensors ("
            << format_bytes(static_cast<double>(stats.bytes_written)) << ") in " << options.output << "\n";
}

void run_lora_adapters(const LoraAdaptersOptions& options) {
  merge::LoraAdaptersMergeOptions merge_options;
  if (!options.full_model.empty()) merge_options.full_model = options.full_model;
  if (options.rank && *options.rank < 1) throw Error("--rank must be positive");
  merge_options.rank = options.rank;
  merge_options.seed = options.seed;
  merge_options.max_shard_bytes = io::parse_byte_size(options.out_shard_size);
  if (merge_options.max_shard_bytes == 0) throw Error("--out-shard-size must be positive");
  merge_options.overwrite = options.overwrite;
  const merge::MergeConfig config = merge::load_merge_config(options.config);
  for (const auto& warning : config.warnings) LADLE_LOG(warning) << warning;
  const merge::LoraAdaptersMergeResult result = merge::merge_lora_adapters(config, options.output, merge_options);
  std::cout << result.text() << "into " << options.output << "\n";
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

  auto lora_options = std::make_shared<LoraOptions>();
  auto* lora = command->add_subcommand(
      "lora", "Merge a PEFT LoRA adapter into its base model: W + (lora_alpha/r)·B·A, as PEFT's merge_and_unload");
  lora->add_option("base", lora_options->base, "The base model (Hugging Face folder or .safetensors file)")
      ->required();
  lora->add_option("adapter", lora_options->adapter, "The PEFT adapter folder")->required();
  lora->add_option("output", lora_options->output, "The model folder to write (appears only when complete)")
      ->required();
  lora->add_option("--out-shard-size", lora_options->out_shard_size, "Tensor bytes per output shard")
      ->capture_default_str();
  lora->add_flag("--overwrite", lora_options->overwrite, "Replace OUT_DIR if it exists");
  lora->callback([lora_options] { run_lora(*lora_options); });

  auto adapters_options = std::make_shared<LoraAdaptersOptions>();
  auto* adapters = command->add_subcommand(
      "lora-adapters", "Merge several LoRA adapters with any merge method in delta-W space (CONFIG.yml OUT_DIR)");
  adapters->footer(kLoraAdaptersHelp);
  adapters->add_option("config", adapters_options->config, "The mergekit-style YAML config naming the adapters")
      ->required();
  adapters->add_option("output", adapters_options->output, "The folder to write (appears only when complete)")
      ->required();
  adapters->add_option("--rank", adapters_options->rank,
                       "Rank of the output adapter (default: the sum of the adapters' ranks)");
  adapters->add_option("--full-model", adapters_options->full_model,
                       "Write this base model plus the merged update instead of an adapter");
  adapters->add_option("--seed", adapters_options->seed, "Seed of the random methods (dare_*, della*)")
      ->capture_default_str();
  adapters->add_option("--out-shard-size", adapters_options->out_shard_size,
                       "Tensor bytes per output shard (full model)")
      ->capture_default_str();
  adapters->add_flag("--overwrite", adapters_options->overwrite, "Replace OUT_DIR if it exists");
  adapters->callback([adapters_options] { run_lora_adapters(*adapters_options); });

  command->callback([options, check, lora, adapters] {
    if (check->parsed() || lora->parsed() || adapters->parsed()) return;
    run_merge(*options);
  });
}

}  // namespace ladle::cli
