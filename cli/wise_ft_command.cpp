// `ladle wise-ft BASE FINETUNED OUT_DIR [--alpha A ...] [--valid ID.jsonl --shifted OOD.jsonl]`: WiSE-FT's
// weight-space ensemble θα = (1−α)·θ_base + α·θ_finetuned (Wortsman et al., CVPR 2022). With one alpha and no data,
// writes θα. With held-out data, evaluates every alpha of the grid on the in-distribution set ("id/...") and each
// shifted set ("ood/...", "ood2/...", ...), writes the table (wise_ft.md, wise_ft.tsv) and the ID-vs-OOD plot
// (wise_ft.png via gnuplot, wise_ft.gp) into OUT_DIR, and writes the model of the alpha with the best
// --select-metric (default id/loss: chosen on in-distribution data, not on the shifted sets) as OUT_DIR.
#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "trainer/heldout_evaluator.h"
#include "lib/io/model_folder.h"
#include "callbacks/wise_ft.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/device.h"
#include "lib/log/log.h"
#include "lib/merge/interpolation_factor.h"
#include "lib/util/error.h"
#include "lib/util/malloc_tuning.h"
#include "lib/weights/nonfinite_values.h"
#include "cli/byte_size_validator.h"
#include "cli/commands.h"
#include "cli/device_option.h"

namespace ladle::cli {
namespace {

struct WiseFtOptions {
  std::string base;
  std::string finetuned;
  std::string output;
  std::vector<double> alphas;
  std::string valid;
  std::vector<std::string> shifted;
  std::string select_metric = "id/loss";
  std::string tokenizer;
  std::size_t max_examples = 256;
  bool bf16 = false;
  std::string device = "cpu";  // where the scoring model runs
  std::string out_shard_size = "5G";
  bool overwrite = false;
  bool allow_nonfinite = false;
};

// Lower is better for losses and perplexities, higher for accuracies.
bool higher_is_better(const std::string& metric) {
  return metric.find("/loss") == std::string::npos && metric.find("/perplexity") == std::string::npos;
}

void run_wise_ft(const WiseFtOptions& options) {
  for (const double alpha : options.alphas) {
    if (!std::isfinite(alpha)) throw Error("--alpha must be a finite number");
    const std::string warning = merge::extrapolation_warning("--alpha", alpha);
    if (!warning.empty()) {
      LADLE_LOG(warning) << warning;
    }
  }
  io::CheckpointWriteOptions write_options;
  write_options.max_shard_bytes = io::parse_byte_size(options.out_shard_size);
  write_options.overwrite = options.overwrite;
  const NamedTensors base = io::CheckpointReader(options.base).load_all();
  const NamedTensors finetuned = io::CheckpointReader(options.finetuned).load_all();
  if (!options.allow_nonfinite) {
    require_finite(base, "base model '" + options.base + "'");
    require_finite(finetuned, "fine-tuned model '" + options.finetuned + "'");
  }

  if (options.valid.empty()) {
    if (!options.shifted.empty()) throw Error("--shifted needs --valid (the in-distribution set) as well");
    if (options.alphas.size() != 1) {
      throw Error("without held-out data (--valid, --shifted) give exactly one --alpha to write; a sweep over " +
                  std::to_string(options.alphas.empty() ? 11 : options.alphas.size()) + " alphas needs data to "
                  "evaluate them on");
    }
    io::write_model_folder(options.output, callbacks::wise_ft_weights(base, finetuned, options.alphas[0]),
                                  options.finetuned, write_options);
    std::cout << "wrote the WiSE-FT model with alpha " << options.alphas[0] << " to " << options.output << "\n";
    return;
  }
  if (options.shifted.empty()) throw Error("WiSE-FT's sweep needs at least one shifted set: give --shifted FILE.jsonl");
  // Every scored batch allocates and frees the same logits and activations: keep them for the next batch instead of
  // faulting them in again (lib/util/malloc_tuning.h).
  retain_freed_memory();
  std::vector<trainer::HeldOutSet> sets = {{"id", options.valid}};
  for (std::size_t i = 0; i < options.shifted.size(); ++i) {
    sets.push_back({i == 0 ? "ood" : "ood" + std::to_string(i + 1), options.shifted[i]});
  }
  trainer::HeldOutEvaluationOptions evaluation;
  evaluation.max_examples = options.max_examples;
  evaluation.bf16 = options.bf16;
  const std::filesystem::path folder = io::model_folder_of(options.finetuned);
  evaluation.chat_format = trainer::load_heldout_chat_format(folder, options.tokenizer);
  const trainer::HeldOutEvaluator evaluator(trainer::load_heldout_tokenizer(folder, options.tokenizer), sets,
                                              evaluation);
  const auto model = model::load_causal_lm(folder, model::resolve_device(options.device, "--device"));

  const std::vector<double> alphas = options.alphas.empty() ? callbacks::default_wise_ft_alphas() : options.alphas;
  const callbacks::WiseFtSweep sweep = callbacks::wise_ft_sweep(
      base, finetuned, alphas, [&](const NamedTensors& weights) {
        model->load_hf_state_dict(weights, "WiSE-FT weights");
        return evaluator.evaluate(*model);
      });
  const std::size_t best =
      callbacks::best_wise_ft_point(sweep, options.select_metric, higher_is_better(options.select_metric));
  const double alpha = sweep.points[best].alpha;
  io::write_model_folder(options.output, callbacks::wise_ft_weights(base, finetuned, alpha), options.finetuned,
                                write_options);
  callbacks::WiseFtReportOptions report;
  report.id_metric = "id/loss";
  report.ood_metric = "ood/loss";
  const bool plotted = callbacks::write_wise_ft_report(sweep, options.output, report);
  std::cout << callbacks::wise_ft_table(sweep, callbacks::summary_metric_names(sweep));
  std::cout << "chose alpha " << alpha << " (best " << options.select_metric << " "
            << sweep.points[best].metrics.at(options.select_metric) << "); wrote its model, the table"
            << (plotted ? " and the plot" : "") << " to " << options.output << "\n";
}

}  // namespace

void add_wise_ft_command(CLI::App& app) {
  auto options = std::make_shared<WiseFtOptions>();
  auto* command = app.add_subcommand(
      "wise-ft", "Interpolate a fine-tuned model towards its base (WiSE-FT), evaluating an alpha grid on held-out "
                 "in-distribution and shifted data");
  command->add_option("base", options->base, "The base (zero-shot / pre-trained) model folder")->required();
  command->add_option("finetuned", options->finetuned, "The fine-tuned model folder")->required();
  command->add_option("output", options->output, "The folder to write (appears only when complete)")->required();
  command
      ->add_option("--alpha", options->alphas,
                   "Interpolation weight(s) of the fine-tuned model: one to write, or a grid to sweep (repeatable or "
                   "comma-separated; default 0, 0.1, ..., 1)")
      ->delimiter(',');
  command->add_option("--valid", options->valid, "In-distribution held-out instruction JSONL (metrics id/...)");
  command->add_option("--shifted", options->shifted, "Shifted held-out instruction JSONL (metrics ood/...; repeatable)");
  command->add_option("--select-metric", options->select_metric,
                      "The metric that chooses the alpha written (losses: lowest; accuracies: highest)")
      ->capture_default_str();
  command->add_option("--tokenizer", options->tokenizer,
                      "tokenizer folder or file, or 'byte' (default: the fine-tuned model's folder)");
  command->add_option("--max-examples", options->max_examples, "Held-out examples per set (0: all)")
      ->capture_default_str();
  command->add_flag("--bf16", options->bf16, "bf16 autocast for the held-out forward passes");
  add_device_option(*command, options->device, "Where the scoring model runs (the interpolation streams on the CPU)");
  command->add_option("--out-shard-size", options->out_shard_size,
                      "Tensor bytes per output shard (K/M/G binary, KB/MB/GB decimal)")
      ->check(positive_byte_size())
      ->capture_default_str();
  command->add_flag("--overwrite", options->overwrite, "Replace OUT_DIR if it exists");
  command->add_flag("--allow-nonfinite", options->allow_nonfinite,
                    "Interpolate models that hold NaN or Inf (by default the first such tensor is an error)");
  command->callback([options] { run_wise_ft(*options); });
}

}  // namespace ladle::cli
