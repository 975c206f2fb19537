// The report of a DTM experiment: per held-out set a Markdown table of every task's response loss and accuracy
// for each model (base, vanilla, DTM over k-means clusters, DTM over a random split, uniform soup) with their
// averages; the paper's diagnostic (Fu et al., 2024, section 3: data biases show as a training loss that falls
// much further than the held-out loss); and gnuplot plots. Torch-free.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/metrics.h"

namespace ladle::dtm {

// One evaluated model: its held-out metrics as trainer::HeldOutEvaluator names them ("valid/loss/<task>",
// "valid/exact_match/<task>", "valid/choice_accuracy/<task>").
struct ModelScores {
  std::string name;   // "base", "vanilla", "dtm-kmeans", "dtm-random", "soup"
  std::string title;  // the table's column heading
  trainer::Metrics metrics;
  // The runs behind the model (their metrics.jsonl), for the diagnostic and the training curves; none for base.
  std::vector<std::filesystem::path> runs;
};

// A task's accuracy on a set: choice accuracy (the likeliest of the task's candidate replies is the reference)
// when the task has candidates, else greedy exact match; nullopt when neither was measured.
std::optional<double> task_accuracy(const trainer::Metrics& metrics, const std::string& set, const std::string& task);

// The table for one set: a row per task ("loss / accuracy" per model), then the mean over tasks, then the loss
// over every token. Models without metrics for the set are left out.
std::string results_table(const std::vector<ModelScores>& models, const std::string& set);

// The training-loss decrease of a run: the mean of its first logged train/loss values minus the mean of its last
// ones (a window of up to 3 log lines each, which evens out the noise of small batches). Throws ladle::Error
// naming the file when it holds fewer than two train lines.
double training_loss_decrease(const std::filesystem::path& metrics_jsonl);

// The diagnostic per trained model (not base): the mean training-loss decrease of its runs, the decrease of its
// loss on `set` from the base model's, and their ratio, as a Markdown table.
std::string loss_decrease_table(const std::vector<ModelScores>& models, const std::string& set);

// Trainer compute per fine-tuned model, from its runs' dtm-run.json (beside each metrics.jsonl): runs, optimizer
// steps, wall and CPU seconds summed over the runs, and the CPU time relative to vanilla's (the target for
// DTM's sub-models together: at most 1.05x). Empty when no run recorded its times.
std::string compute_table(const std::vector<ModelScores>& models);

// Writes report.md (returned), report.json (every model's metrics) and, when gnuplot is installed,
// task-loss.png (per-task loss on the first set, a bar per model) and training-curves.png (training and
// evaluation loss of every run over its steps) into `directory`, each file atomically.
std::string write_dtm_report(const std::vector<ModelScores>& models, const std::vector<std::string>& sets,
                             const nlohmann::json& settings, const std::filesystem::path& directory);

}  // namespace ladle::dtm
