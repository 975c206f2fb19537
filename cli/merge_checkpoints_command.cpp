// `ladle merge-checkpoints RUN_DIR --scheme sma|ema:ALPHA|wma|wsm:cosine|wsm:linear|wsm:sqrt --last N OUT_DIR`:
// checkpoint-series merging (PMA, WSM; callbacks/checkpoint_series_merge.h). Writes the weighted sum of the run's N
// newest complete checkpoints (RUN_DIR/checkpoints/step-*/model) as the Hugging Face folder OUT_DIR, which
// `ladle train` (model.path) and `ladle merge` load, and prints the steps and weights it used as one JSON line;
// with --valid FILE the merged model's held-out metrics are added to that line (so one way of scoring covers every
// scheme, and `--scheme sma --last 1`, which gives back the last checkpoint bit for bit, scores the raw weights).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callbacks/checkpoint_series_merge.h"
#include "cli/commands.h"
#include "cli/heldout_options.h"
#include "lib/merge/checkpoint_series_weights.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"

namespace ladle::cli {
namespace {

struct MergeCheckpointsOptions {
  std::string run_dir;
  std::string output;
  std::string scheme = "sma";
  std::size_t last = 0;
  HeldOutOptions heldout;
  bool overwrite = false;
};

void run_merge_checkpoints(const MergeCheckpointsOptions& options) {
  merge::SeriesWeighting weighting;
  try {
    weighting = merge::parse_series_weighting(options.scheme);
  } catch (const Error& error) {
    throw Error(std::string("--scheme: ") + error.what());
  }
  const callbacks::CheckpointSeriesMerge merged =
      callbacks::merge_checkpoint_series(options.run_dir, weighting, options.last, options.output, options.overwrite);
  std::vector<std::int64_t> steps;
  for (const auto& checkpoint : merged.checkpoints) steps.push_back(checkpoint.step);
  nlohmann::json record = {{"scheme", merge::series_weighting_name(weighting)},
                           {"steps", steps},
                           {"weights", merged.weights},
                           {"output", options.output}};
  if (const auto evaluator = make_heldout_evaluator(options.heldout, options.output)) {
    const auto model = model::load_causal_lm(options.output);
    for (const auto& [name, value] : evaluator->evaluate(*model)) record[name] = value;
  }
  std::cout << record.dump() << "\n";
}

}  // namespace

void add_merge_checkpoints_command(CLI::App& app) {
  auto options = std::make_shared<MergeCheckpointsOptions>();
  auto* command = app.add_subcommand(
      "merge-checkpoints",
      "Merge a run's last N training checkpoints with PMA's moving averages or WSM's decay-emulating weights");
  command->add_option("run_dir", options->run_dir, "The run's output folder (with checkpoints/)")->required();
  command->add_option("output", options->output, "The Hugging Face folder to write")->required();
  command->add_option("--scheme", options->scheme, std::string("Merge weights: ") + merge::kSeriesWeightingSyntax)
      ->capture_default_str();
  command->add_option("--last", options->last, "How many of the newest complete checkpoints to merge")->required();
  add_heldout_options(*command, options->heldout, "Held-out instruction JSONL: evaluate the merged model");
  command->add_flag("--overwrite", options->overwrite, "Replace OUT_DIR if it exists");
  command->callback([options] { run_merge_checkpoints(*options); });
}

}  // namespace ladle::cli
