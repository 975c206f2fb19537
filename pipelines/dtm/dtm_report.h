// The report of a DTM experiment: per held-out set a Markdown table of every task's response loss and accuracy
// for each model (base, vanilla, DTM over k-means clusters, DTM over a random split, uniform soup) with their
// averages; the paper's diagnostic (Fu et al., 2024, section 3: data biases show as a training loss that falls
// much further than the held-out loss); and gnuplot plots. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/example_scores.h"
#include "trainer/metrics.h"

namespace ladle::dtm {

// One evaluated model: its held-out metrics as trainer::HeldOutEvaluator names them ("valid/loss/<task>",
// "valid/exact_match/<task>", "valid/choice_accuracy/<task>").
struct ModelScores {
  // "base", "vanilla", "dtm-kmeans", "dtm-random", "soup", "ensemble" ("vanilla-seed1": replicate 1)
  std::string name;
  std::string title;  // the table's column heading
  trainer::Metrics metrics;
  // The runs behind the model (their metrics.jsonl), for the diagnostic and the training curves; none for base.
  std::vector<std::filesystem::path> runs;
  std::string method;  // what the replicates of one method share: name without its "-seed<s>"
  std::uint64_t seed = 0;  // the replicate (dtm_config.h `seeds`)
  std::map<std::string, trainer::ExampleScores> examples;  // per set: every example's score, for paired intervals
};

// The table for one set: a row per task ("loss / accuracy" per model), then the mean over tasks, then the loss
// over every token. Models without metrics for the set are left out.
std::string results_table(const std::vector<ModelScores>& models, const std::string& set);

// How much of the c-BTM ensemble's gain over the base model (its decrease of the loss over every token of `set`)
// the merge of the same sub-models keeps, as a sentence; empty without the base, the ensemble or DTM (k-means).
std::string ensemble_share(const std::vector<ModelScores>& models, const std::string& set);

// The alignment tax of one model (Fu et al., 2024, section 1): the base model's knowledge it lost beside the
// instruction tasks it gained, both against the base model.
struct AlignmentTax {
  std::string name, title;
  double knowledge_loss = 0;           // its loss on the knowledge text ("knowledge/loss")
  double knowledge_lost = 0;           // that minus the base model's: > 0 is knowledge lost
  double instruction_loss_gained = 0;  // the base's loss over every token of the set minus its: > 0 is a gain
  std::optional<double> instruction_accuracy_gained;  // its mean task accuracy on the set minus the base's
};

// A row per model evaluated on the knowledge text and `set`, base first; empty when the base model was not.
std::vector<AlignmentTax> alignment_tax(const std::vector<ModelScores>& models, const std::string& set);

// The rows as a Markdown table.
std::string alignment_tax_table(const std::vector<AlignmentTax>& rows, const std::string& set);

// The training-loss decrease of a run: the mean of its first logged train/loss values minus the mean of its last
// ones (a window of up to 3 log lines each, which evens out the noise of small batches). Throws ladle::Error
// naming the file when it holds fewer than two train lines.
double training_loss_decrease(const std::filesystem::path& metrics_jsonl);

// The diagnostic per trained model (not base): the mean training-loss decrease of its runs, the decrease of its
// loss on `set` from the base model's, and their ratio, as a Markdown table.
std::string loss_decrease_table(const std::vector<ModelScores>& models, const std::string& set);

// One K of a K sweep (dtm_config.h cluster.k): the DTM merge over its k-means clusters, vanilla at K = 1.
struct KSweepPoint {
  std::int64_t k = 0;
  const ModelScores* model = nullptr;  // "dtm-kmeans-k<K>", or "vanilla" for K = 1; null when not evaluated
};

// The points of the sweep `ks` among `models` (each method once: seed means), in the order of `ks`.
std::vector<KSweepPoint> k_sweep_points(const std::vector<ModelScores>& models, const std::vector<std::int64_t>& ks);

// A row per K: per set the loss over every token and the mean task accuracy, and the knowledge lost against the
// base model when the knowledge text was scored.
std::string k_sweep_table(const std::vector<KSweepPoint>& points, const std::vector<ModelScores>& models,
                          const std::vector<std::string>& sets);

// Trainer compute per fine-tuned model, from its runs' dtm-run.json (beside each metrics.jsonl): runs, optimizer
// steps, wall and CPU seconds summed over the runs, and the CPU time relative to vanilla's (the target for
// DTM's sub-models together: at most 1.05x). Empty when no run recorded its times.
std::string compute_table(const std::vector<ModelScores>& models);

// `models` holds every replicate of every method (dtm_seed_statistics.h): the tables give each method's mean over
// its seeds, and with several seeds a section gives their spread and intervals.
// Writes report.md (returned), report.json (every model's metrics, and its alignment tax when the knowledge text
// was scored) and, when gnuplot is installed, task-loss.png (per-task loss on the first set, a bar per model),
// training-curves.png (training and evaluation loss of every run over its steps), tax.png (knowledge lost
// against instruction loss gained, a point per model) and, when settings' "k" is a list (a K sweep), k-sweep.png
// (every set's loss against K) into `directory`, each file atomically.
std::string write_dtm_report(const std::vector<ModelScores>& models, const std::vector<std::string>& sets,
                             const nlohmann::json& settings, const std::filesystem::path& directory);

}  // namespace ladle::dtm
