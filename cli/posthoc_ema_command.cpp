// `ladle posthoc-ema RUN_DIR --sigma-rel 0.02,0.05,0.1,0.2 OUT_DIR`: EDM2's post-hoc EMA (callbacks/posthoc_ema.h).
// For each target width, solves the least squares over the run's power-EMA snapshot profiles (RUN_DIR/posthoc/,
// written by `averaging.posthoc`) and writes sum_i x_i snapshot_i as the Hugging Face folder OUT_DIR/sigma_rel-<s>/,
// streamed through the merge engine. OUT_DIR/posthoc.jsonl records each target's gamma, step and weights; with
// --valid FILE each reconstruction's held-out metrics are added there and its loss is plotted against sigma_rel
// (OUT_DIR/posthoc.gp, posthoc.png via gnuplot), as EDM2's figure 5 does.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "callbacks/posthoc_ema.h"
#include "callbacks/power_ema.h"
#include "cli/commands.h"
#include "cli/heldout_options.h"
#include "lib/config/value_range.h"
#include "lib/io/atomic_file.h"
#include "lib/merge/weighted_model_sum.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"
#include "lib/util/gnuplot.h"

namespace ladle::cli {
namespace {

struct PosthocEmaOptions {
  std::string run_dir;
  std::string output;
  std::string sigma_rel_list;
  std::int64_t step = 0;  // 0: the last snapshot's step
  HeldOutOptions heldout;
  bool overwrite = false;
};

// The held-out loss of each reconstruction against sigma_rel, one point per target.
void write_plot(const std::filesystem::path& output, const std::vector<nlohmann::json>& records) {
  std::ostringstream data;
  for (const auto& record : records)
    data << record.at("sigma_rel").get<double>() << " " << record.at("valid/loss").get<double>() << "\n";
  io::write_file_atomically(output / "posthoc.dat", data.str());
  std::ostringstream script;
  script << "set terminal pngcairo size 800,500\n"
         << "set output " << gnuplot_quoted((output / "posthoc.png").string()) << "\n"
         << "set xlabel 'sigma_rel'\nset ylabel 'held-out loss'\nset logscale x\nset grid\n"
         << "set title 'post-hoc EMA reconstructions'\n"
         << "plot " << gnuplot_quoted((output / "posthoc.dat").string())
         << " using 1:2 with linespoints title 'valid/loss'\n";
  io::write_file_atomically(output / "posthoc.gp", script.str());
  run_gnuplot(output / "posthoc.gp");
}

// The numbers of "0.05,0.1".
std::vector<double> sigma_rels_of(const std::string& list) {
  std::vector<double> values;
  std::istringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size())
      throw Error("--sigma-rel: expected numbers separated by commas, got '" + list + "'");
    values.push_back(value);
  }
  if (values.empty()) throw Error("--sigma-rel: give at least one target width");
  return values;
}

void run_posthoc_ema(const PosthocEmaOptions& options) {
  const std::vector<double> sigma_rels = sigma_rels_of(options.sigma_rel_list);
  const auto snapshots = callbacks::find_posthoc_snapshots(options.run_dir);
  const std::int64_t step = options.step > 0 ? options.step : snapshots.back().step;
  std::vector<callbacks::PosthocSnapshot> used;
  for (const auto& snapshot : snapshots) {
    if (snapshot.step <= step) used.push_back(snapshot);
  }
  if (used.empty()) throw Error("--step " + std::to_string(step) + ": no snapshot was taken at or before it");
  const std::filesystem::path output(options.output);
  std::filesystem::create_directories(output);
  std::vector<std::filesystem::path> folders;
  for (const auto& snapshot : used) folders.push_back(snapshot.folder);
  const auto evaluator = make_heldout_evaluator(options.heldout, folders.front());
  std::vector<nlohmann::json> records;
  for (const double sigma_rel : sigma_rels) {
    const double gamma = callbacks::gamma_of_sigma_rel(sigma_rel);
    const std::vector<double> weights = callbacks::posthoc_ema_coefficients(used, gamma, step);
    const std::filesystem::path folder = output / ("sigma_rel-" + config::number_text(sigma_rel));
    merge::write_weighted_model_sum(folders, weights, folder, options.overwrite);
    nlohmann::json record = {{"sigma_rel", sigma_rel},   {"gamma", gamma},     {"step", step},
                             {"snapshots", used.size()}, {"weights", weights}, {"folder", folder.string()}};
    if (evaluator) {
      const auto model = model::load_causal_lm(folder);
      for (const auto& [name, value] : evaluator->evaluate(*model)) record[name] = value;
    }
    std::cout << record.dump() << "\n";
    records.push_back(std::move(record));
  }
  std::string lines;
  for (const auto& record : records) lines += record.dump() + "\n";
  io::write_file_atomically(output / "posthoc.jsonl", lines);
  if (evaluator) write_plot(output, records);
  std::cout << "wrote " << records.size() << " reconstruction(s) from " << used.size() << " snapshot(s) to "
            << output.string() << "\n";
}

}  // namespace

void add_posthoc_ema_command(CLI::App& app) {
  auto options = std::make_shared<PosthocEmaOptions>();
  auto* command = app.add_subcommand(
      "posthoc-ema",
      "Reconstruct power EMAs of any width from a run's post-hoc snapshots (EDM2), optionally evaluating each");
  command->add_option("run_dir", options->run_dir, "The run's output folder (with posthoc/ from averaging.posthoc)")
      ->required();
  command->add_option("output", options->output, "The folder to write the reconstructions into")->required();
  // One comma-separated value (parsed in run_posthoc_ema), so OUT_DIR may follow it: a vector option would take it.
  command->add_option("--sigma-rel", options->sigma_rel_list, "Target relative widths, comma-separated (0.05,0.1)")
      ->required();
  command->add_option("--step", options->step, "The step to reconstruct at (default: the last snapshot's)");
  add_heldout_options(*command, options->heldout,
                      "Held-out instruction JSONL: evaluate each reconstruction and plot its loss against sigma_rel");
  command->add_flag("--overwrite", options->overwrite, "Replace reconstructions that exist");
  command->callback([options] { run_posthoc_ema(*options); });
}

}  // namespace ladle::cli
