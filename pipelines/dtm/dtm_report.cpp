#include "pipelines/dtm/dtm_report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

#include "lib/io/json_member.h"
#include "lib/util/gnuplot.h"
#include "lib/util/human_format.h"
#include "lib/io/atomic_file.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"
#include "pipelines/dtm/dtm_layout.h"
#include "pipelines/dtm/dtm_seed_statistics.h"
#include "trainer/task_accuracy.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;

std::optional<double> metric(const trainer::Metrics& metrics, const std::string& name) {
  const auto found = metrics.find(name);
  return found == metrics.end() ? std::nullopt : std::optional<double>(found->second);
}

std::string percent(std::optional<double> value) { return value ? format_fixed(100.0 * *value, 1) + "%" : "–"; }

// The task's accuracy (trainer/task_accuracy.h), whichever kind it is.
std::optional<double> accuracy_of(const trainer::Metrics& metrics, const std::string& set, const std::string& task) {
  const auto accuracy = trainer::task_accuracy(metrics, set, task);
  return accuracy ? std::optional<double>(accuracy->value) : std::nullopt;
}

// Tasks with a loss on the set in any model, sorted.
std::vector<std::string> tasks_of(const std::vector<ModelScores>& models, const std::string& set) {
  const std::string prefix = set + "/loss/";
  std::set<std::string> tasks;
  for (const auto& model : models) {
    for (const auto& [name, value] : model.metrics) {
      if (starts_with(name, prefix)) tasks.insert(name.substr(prefix.size()));
    }
  }
  return {tasks.begin(), tasks.end()};
}

std::vector<const ModelScores*> models_with(const std::vector<ModelScores>& models, const std::string& set) {
  std::vector<const ModelScores*> present;
  for (const auto& model : models) {
    if (model.metrics.count(set + "/loss") != 0) present.push_back(&model);
  }
  return present;
}

// The train/loss values of a metrics.jsonl, in step order.
std::vector<std::pair<std::int64_t, double>> series(const fs::path& path, const std::string& kind,
                                                    const std::string& name) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot read the run's metrics");
  std::vector<std::pair<std::int64_t, double>> values;
  std::size_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& error) {
      throw Error(path.string() + ":" + std::to_string(line_number) + ": not JSON: " + error.what());
    }
    const auto step = io::json_member<std::int64_t>(json, "step");
    const auto value = io::json_member<double>(json, name);
    if (io::json_member<std::string>(json, "kind") != kind || !step || !value) continue;
    values.emplace_back(*step, *value);
  }
  return values;
}

double mean_of(std::vector<std::pair<std::int64_t, double>>::const_iterator begin,
               std::vector<std::pair<std::int64_t, double>>::const_iterator end) {
  double sum = 0;
  for (auto it = begin; it != end; ++it) sum += it->second;
  return sum / static_cast<double>(end - begin);
}

std::string number(double value) {
  std::ostringstream text;
  text << std::setprecision(9) << value;
  return text.str();
}

// task-loss.png: per-task loss on `set`, one bar per model.
void write_task_loss_plot(const std::vector<ModelScores>& models, const std::string& set, const fs::path& directory) {
  const auto present = models_with(models, set);
  const auto tasks = tasks_of(models, set);
  if (present.empty() || tasks.empty()) return;
  std::ostringstream data;
  data << "# task";
  for (const auto* model : present) data << "\t" << model->name;
  data << "\n";
  for (const auto& task : tasks) {
    data << task;
    for (const auto* model : present) {
      const auto loss = metric(model->metrics, set + "/loss/" + task);
      data << "\t" << (loss ? number(*loss) : "NaN");
    }
    data << "\n";
  }
  io::write_file_atomically(directory / "task-loss.tsv", data.str());
  std::ostringstream script;
  script << "set terminal pngcairo size 1100,550 noenhanced font 'sans,10'\n"
         << "set output " << gnuplot_quoted((directory / "task-loss.png").string()) << "\n"
         << "set title " << gnuplot_quoted("held-out response loss per task (" + set + ")") << "\n"
         << "set ylabel 'loss'\nset grid ytics\nset key outside right\nset datafile separator '\\t'\n"
         << "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
         << "set xtics rotate by -30\n"
         << "plot ";
  for (std::size_t i = 0; i < present.size(); ++i) {
    script << (i ? ", \\\n     " : "") << gnuplot_quoted((directory / "task-loss.tsv").string())
           << " using " << i + 2 << (i == 0 ? ":xtic(1)" : "") << " title "
           << gnuplot_quoted(present[i]->title);
  }
  script << "\n";
  io::write_file_atomically(directory / "task-loss.gp", script.str());
  run_gnuplot(directory / "task-loss.gp");
}

// training-curves.png: train/loss (lines) and eval/loss (points) of every run against its step.
void write_training_curves_plot(const std::vector<ModelScores>& models, const fs::path& directory) {
  std::ostringstream data;
  std::vector<std::string> plots;
  std::size_t block = 0;
  for (const auto& model : models) {
    for (const auto& run : model.runs) {
      const std::string run_name = run.parent_path().filename().string();
      for (const auto& [kind, name] : {std::pair{"train", "train/loss"}, std::pair{"eval", "eval/loss"}}) {
        const auto values = series(run, kind, name);
        if (values.empty()) continue;
        data << "# " << run_name << " " << name << "\n";
        for (const auto& [step, value] : values) data << step << "\t" << number(value) << "\n";
        data << "\n\n";
        plots.push_back("'' index " + std::to_string(block++) + " using 1:2 with " +
                        (std::string(kind) == "train" ? "lines" : "linespoints pointtype 7") + " title " +
                        gnuplot_quoted(run_name + " " + name));
      }
    }
  }
  if (plots.empty()) return;
  io::write_file_atomically(directory / "training-curves.tsv", data.str());
  std::ostringstream script;
  script << "set terminal pngcairo size 1100,600 noenhanced font 'sans,10'\n"
         << "set output " << gnuplot_quoted((directory / "training-curves.png").string()) << "\n"
         << "set title 'training loss (own data) and held-out loss of every run'\n"
         << "set xlabel 'optimizer step'\nset ylabel 'loss'\nset grid\nset key outside right\n"
         << "plot " << gnuplot_quoted((directory / "training-curves.tsv").string()) << " index 0 using 1:2 "
         << plots.front().substr(plots.front().find("with"));
  for (std::size_t i = 1; i < plots.size(); ++i) script << ", \\\n     " << plots[i];
  script << "\n";
  io::write_file_atomically(directory / "training-curves.gp", script.str());
  run_gnuplot(directory / "training-curves.gp");
}

// The mean over `tasks` of a model's task losses and task accuracies on `set` (nullopt: none measured).
struct TaskMeans {
  std::optional<double> loss, accuracy;
};

TaskMeans task_means(const trainer::Metrics& metrics, const std::string& set, const std::vector<std::string>& tasks) {
  double loss_sum = 0, accuracy_sum = 0;
  std::size_t losses = 0, accuracies = 0;
  for (const auto& task : tasks) {
    if (const auto loss = metric(metrics, set + "/loss/" + task)) loss_sum += *loss, ++losses;
    if (const auto accuracy = accuracy_of(metrics, set, task)) accuracy_sum += *accuracy, ++accuracies;
  }
  TaskMeans means;
  if (losses > 0) means.loss = loss_sum / static_cast<double>(losses);
  if (accuracies > 0) means.accuracy = accuracy_sum / static_cast<double>(accuracies);
  return means;
}

// tax.png: knowledge lost against instruction loss gained, a labelled point per model (and the line from the base
// through vanilla's interpolations to vanilla, when the report has them).
void write_tax_plot(const std::vector<AlignmentTax>& rows, const std::string& set, const fs::path& directory) {
  if (rows.empty()) return;
  std::ostringstream data;
  data << "# model\tinstruction loss gained\tknowledge lost\n";
  for (const auto& row : rows) {
    data << row.title << "\t" << number(row.instruction_loss_gained) << "\t" << number(row.knowledge_lost) << "\n";
  }
  io::write_file_atomically(directory / "tax.tsv", data.str());
  const std::string tsv = gnuplot_quoted((directory / "tax.tsv").string());
  // With vanilla's interpolations (baselines.interpolation) the line from the base through them to vanilla: where
  // fine-tuning less lands, the frontier a merge's point is read against.
  std::vector<std::pair<double, const AlignmentTax*>> line;
  for (const auto& row : rows) {
    if (row.name == "base") line.emplace_back(0.0, &row);
    if (row.name == "vanilla") line.emplace_back(1.0, &row);
    if (starts_with(row.name, kInterpolationPrefix)) {
      line.emplace_back(std::stod(row.name.substr(std::string(kInterpolationPrefix).size())), &row);
    }
  }
  std::sort(line.begin(), line.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string line_plot;
  if (line.size() > 2) {
    std::ostringstream points;
    for (const auto& [alpha, row] : line) {
      points << alpha << "\t" << number(row->instruction_loss_gained) << "\t" << number(row->knowledge_lost) << "\n";
    }
    io::write_file_atomically(directory / "tax-interpolation.tsv", points.str());
    line_plot = ", \\\n     " + gnuplot_quoted((directory / "tax-interpolation.tsv").string()) +
                " using 2:3 with lines dashtype 2 linewidth 1.5 title 'base to vanilla (WiSE-FT)'";
  }
  std::ostringstream script;
  script << "set terminal pngcairo size 800,600 noenhanced font 'sans,10'\n"
         << "set output " << gnuplot_quoted((directory / "tax.png").string()) << "\n"
         << "set title 'alignment tax: knowledge lost against instruction tasks gained'\n"
         << "set xlabel " << gnuplot_quoted("instruction tasks gained (" + set + " loss decrease from base)") << "\n"
         << "set ylabel 'knowledge lost (knowledge-text loss increase from base)'\n"
         << "set grid\nset datafile separator '\\t'\nset offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1\n"
         << "plot " << tsv << " using 2:3 with points pointtype 7 pointsize 1.5 notitle, \\\n     " << tsv
         << " using 2:3:1 with labels offset 1,1 left notitle" << line_plot << "\n";
  io::write_file_atomically(directory / "tax.gp", script.str());
  run_gnuplot(directory / "tax.gp");
}

// k-sweep.png: every set's loss over every token (and the knowledge text's) against K, a line per set.
void write_k_sweep_plot(const std::vector<KSweepPoint>& points, const std::vector<std::string>& sets,
                        const fs::path& directory) {
  std::vector<std::string> scored = sets;
  scored.push_back("knowledge");
  std::ostringstream data;
  data << "# K";
  for (const auto& set : scored) data << "\t" << set;
  data << "\n";
  std::vector<bool> present(scored.size(), false);
  for (const auto& point : points) {
    if (point.model == nullptr) continue;
    data << point.k;
    for (std::size_t i = 0; i < scored.size(); ++i) {
      const auto loss = metric(point.model->metrics, scored[i] + "/loss");
      data << "\t" << (loss ? number(*loss) : "NaN");
      present[i] = present[i] || loss.has_value();
    }
    data << "\n";
  }
  io::write_file_atomically(directory / "k-sweep.tsv", data.str());
  const std::string tsv = gnuplot_quoted((directory / "k-sweep.tsv").string());
  std::ostringstream script;
  script << "set terminal pngcairo size 800,550 noenhanced font 'sans,10'\n"
         << "set output " << gnuplot_quoted((directory / "k-sweep.png").string()) << "\n"
         << "set title 'DTM against K (K = 1: vanilla fine-tuning)'\n"
         << "set xlabel 'K (clusters and sub-models)'\nset ylabel 'loss over every token'\nset logscale x 2\n"
         << "set grid\nset key outside right\nset datafile separator '\\t'\nset offsets graph 0.05, graph 0.05\n"
         << "plot ";
  bool first = true;
  for (std::size_t i = 0; i < scored.size(); ++i) {
    if (!present[i]) continue;
    script << (first ? "" : ", \\\n     ") << tsv << " using 1:" << i + 2 << " with linespoints pointtype 7 title "
           << gnuplot_quoted(scored[i]);
    first = false;
  }
  script << "\n";
  io::write_file_atomically(directory / "k-sweep.gp", script.str());
  run_gnuplot(directory / "k-sweep.gp");
}

}  // namespace

std::string results_table(const std::vector<ModelScores>& models, const std::string& set) {
  const auto present = models_with(models, set);
  const auto tasks = tasks_of(models, set);
  std::ostringstream table;
  table << "| task (" << set << ": loss / accuracy) |";
  for (const auto* model : present) table << " " << model->title << " |";
  table << "\n|---|";
  for (std::size_t i = 0; i < present.size(); ++i) table << "---|";
  table << "\n";
  for (const auto& task : tasks) {
    table << "| " << task << " |";
    for (const auto* model : present) {
      const auto loss = metric(model->metrics, set + "/loss/" + task);
      table << " " << (loss ? format_fixed(*loss, 3) : "–") << " / " << percent(accuracy_of(model->metrics, set, task))
            << " |";
    }
    table << "\n";
  }
  table << "| **mean over tasks** |";
  for (const auto* model : present) {
    const TaskMeans means = task_means(model->metrics, set, tasks);
    table << " **" << (means.loss ? format_fixed(*means.loss, 3) : "–") << " / " << percent(means.accuracy) << "** |";
  }
  table << "\n| every token (loss) |";
  for (const auto* model : present) table << " " << format_fixed(model->metrics.at(set + "/loss"), 3) << " |";
  table << "\n";
  return table.str();
}

std::string ensemble_share(const std::vector<ModelScores>& models, const std::string& set) {
  const auto loss_of = [&](const std::string& method) -> std::optional<double> {
    for (const auto& model : models) {
      if (model.method == method) return metric(model.metrics, set + "/loss");
    }
    return std::nullopt;
  };
  const auto base = loss_of("base"), ensemble = loss_of("ensemble"), merged = loss_of("dtm-kmeans");
  if (!base || !ensemble || !merged) return "";
  const double gained = *base - *ensemble;
  std::ostringstream text;
  text << "The c-BTM ensemble of the k-means sub-models lowers the base model's " << set << " loss by "
       << format_fixed(gained, 3) << "; their merge (DTM (k-means)) by " << format_fixed(*base - *merged, 3);
  if (gained > 0) text << ", " << format_fixed(100 * (*base - *merged) / gained, 1) << "% of the ensemble's gain";
  text << ".\n\n";
  return text.str();
}

std::vector<AlignmentTax> alignment_tax(const std::vector<ModelScores>& models, const std::string& set) {
  const auto base = std::find_if(models.begin(), models.end(), [](const auto& m) { return m.method == "base"; });
  if (base == models.end() || !metric(base->metrics, "knowledge/loss") || !metric(base->metrics, set + "/loss")) {
    return {};
  }
  const auto tasks = tasks_of(models, set);
  const auto base_accuracy = task_means(base->metrics, set, tasks).accuracy;
  std::vector<AlignmentTax> rows;
  for (const auto& model : models) {
    const auto knowledge = metric(model.metrics, "knowledge/loss");
    const auto loss = metric(model.metrics, set + "/loss");
    if (!knowledge || !loss) continue;
    AlignmentTax row{model.name, model.title, *knowledge, *knowledge - base->metrics.at("knowledge/loss"),
                     base->metrics.at(set + "/loss") - *loss, std::nullopt};
    const auto accuracy = task_means(model.metrics, set, tasks).accuracy;
    if (accuracy && base_accuracy) row.instruction_accuracy_gained = *accuracy - *base_accuracy;
    rows.push_back(row);
  }
  return rows;
}

std::string alignment_tax_table(const std::vector<AlignmentTax>& rows, const std::string& set) {
  std::ostringstream table;
  table << "| model | knowledge loss | knowledge lost (vs base) | instruction tasks gained (" << set
        << ": loss decrease) | instruction tasks gained (" << set << ": mean task accuracy) |\n|---|---|---|---|---|\n";
  for (const auto& row : rows) {
    table << "| " << row.title << " | " << format_fixed(row.knowledge_loss, 3) << " | "
          << (row.knowledge_lost >= 0 ? "+" : "") << format_fixed(row.knowledge_lost, 3) << " | "
          << (row.instruction_loss_gained >= 0 ? "+" : "") << format_fixed(row.instruction_loss_gained, 3) << " | "
          << (row.instruction_accuracy_gained
                  ? (*row.instruction_accuracy_gained >= 0 ? "+" : "") +
                        format_fixed(100 * *row.instruction_accuracy_gained, 1) + " pt"
                  : std::string("–"))
          << " |\n";
  }
  return table.str();
}

double training_loss_decrease(const std::filesystem::path& metrics_jsonl) {
  const auto values = series(metrics_jsonl, "train", "train/loss");
  if (values.size() < 2) {
    throw Error(metrics_jsonl.string() + ": needs at least two train/loss lines (lower log_every_steps)");
  }
  const auto window = static_cast<std::ptrdiff_t>(std::min<std::size_t>(3, values.size() / 2));
  return mean_of(values.begin(), values.begin() + window) - mean_of(values.end() - window, values.end());
}

std::string loss_decrease_table(const std::vector<ModelScores>& models, const std::string& set) {
  const auto base = std::find_if(models.begin(), models.end(), [](const auto& m) { return m.runs.empty(); });
  if (base == models.end() || base->metrics.count(set + "/loss") == 0) return "";
  const double base_loss = base->metrics.at(set + "/loss");
  std::ostringstream table;
  table << "| model | training-loss decrease (its runs, own data) | " << set
        << "-loss decrease (from base) | ratio |\n|---|---|---|---|\n";
  for (const auto& model : models) {
    if (model.runs.empty() || model.metrics.count(set + "/loss") == 0) continue;
    double train = 0;
    for (const auto& run : model.runs) train += training_loss_decrease(run);
    train /= static_cast<double>(model.runs.size());
    const double valid = base_loss - model.metrics.at(set + "/loss");
    table << "| " << model.title << " | " << format_fixed(train, 3) << " | " << format_fixed(valid, 3) << " | "
          << (valid > 0 ? format_fixed(train / valid, 2) : std::string("– (no decrease)")) << " |\n";
  }
  return table.str();
}

std::vector<KSweepPoint> k_sweep_points(const std::vector<ModelScores>& models, const std::vector<std::int64_t>& ks) {
  std::vector<KSweepPoint> points;
  for (const std::int64_t k : ks) {
    const std::string method = k == 1 ? "vanilla" : "dtm-kmeans-k" + std::to_string(k);
    const auto found = std::find_if(models.begin(), models.end(), [&](const auto& m) { return m.method == method; });
    points.push_back({k, found == models.end() ? nullptr : &*found});
  }
  return points;
}

std::string k_sweep_table(const std::vector<KSweepPoint>& points, const std::vector<ModelScores>& models,
                          const std::vector<std::string>& sets) {
  const auto base = std::find_if(models.begin(), models.end(), [](const auto& m) { return m.method == "base"; });
  const bool knowledge = base != models.end() && metric(base->metrics, "knowledge/loss").has_value();
  std::ostringstream table;
  table << "| K | model |";
  for (const auto& set : sets) table << " " << set << " loss | " << set << " mean task accuracy |";
  if (knowledge) table << " knowledge lost (vs base) |";
  table << "\n|---|---|";
  for (std::size_t i = 0; i < sets.size(); ++i) table << "---|---|";
  if (knowledge) table << "---|";
  table << "\n";
  for (const auto& point : points) {
    table << "| " << point.k << " | " << (point.model ? point.model->title : "(not evaluated)") << " |";
    for (const auto& set : sets) {
      const auto loss = point.model ? metric(point.model->metrics, set + "/loss") : std::nullopt;
      const auto accuracy =
          point.model ? task_means(point.model->metrics, set, tasks_of(models, set)).accuracy : std::nullopt;
      table << " " << (loss ? format_fixed(*loss, 3) : "–") << " | " << percent(accuracy) << " |";
    }
    if (knowledge) {
      const auto loss = point.model ? metric(point.model->metrics, "knowledge/loss") : std::nullopt;
      const double lost = loss ? *loss - base->metrics.at("knowledge/loss") : 0;
      table << " " << (loss ? (lost >= 0 ? "+" : "") + format_fixed(lost, 3) : std::string("–")) << " |";
    }
    table << "\n";
  }
  return table.str();
}

std::string compute_table(const std::vector<ModelScores>& models) {
  struct Cost {
    std::string title;
    std::size_t runs = 0;
    std::int64_t steps = 0;
    double seconds = 0, cpu_seconds = 0;
  };
  std::vector<Cost> costs;
  std::optional<double> vanilla_cpu;
  for (const auto& model : models) {
    Cost cost{model.title};
    for (const auto& metrics : model.runs) {
      std::ifstream in(metrics.parent_path() / "dtm-run.json");
      const nlohmann::json run = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (!run.is_object() || !run.contains("train_cpu_seconds")) continue;
      ++cost.runs;
      cost.steps += run.at("steps").get<std::int64_t>();
      cost.seconds += run.at("train_seconds").get<double>();
      cost.cpu_seconds += run.at("train_cpu_seconds").get<double>();
    }
    if (cost.runs == 0) continue;
    if (model.name == "vanilla") vanilla_cpu = cost.cpu_seconds;
    costs.push_back(cost);
  }
  if (costs.empty()) return "";
  std::ostringstream table;
  table << "| model | runs | optimizer steps | trainer wall s | trainer CPU s | CPU vs vanilla |\n"
        << "|---|---|---|---|---|---|\n";
  for (const auto& cost : costs) {
    table << "| " << cost.title << " | " << cost.runs << " | " << cost.steps << " | " << format_fixed(cost.seconds, 1) << " | "
          << format_fixed(cost.cpu_seconds, 1) << " | "
          << (vanilla_cpu && *vanilla_cpu > 0 ? format_fixed(cost.cpu_seconds / *vanilla_cpu, 2) + "x" : std::string("–"))
          << " |\n";
  }
  return table.str();
}

std::string write_dtm_report(const std::vector<ModelScores>& models, const std::vector<std::string>& sets,
                             const nlohmann::json& settings, const std::filesystem::path& directory) {
  const std::vector<ModelScores> methods = seed_means(models);
  const bool replicated = has_replicates(models);
  std::ostringstream md;
  md << "# Disperse-Then-Merge report\n\n"
     << "Models: the base model; vanilla fine-tuning on every record; DTM (Fu et al., ACL Findings 2024): K "
        "sub-models fine-tuned on k-means clusters of the records and merged; the same over a random split with "
        "the same cluster sizes; the uniform soup of K all-records runs with different seeds; when asked for, the "
        "c-BTM ensemble (Gururangan et al. 2023) of the k-means sub-models, unmerged, mixing their next-token "
        "probabilities per example by the cluster posterior of its prompt. Every fine-tuned model had the same total optimizer steps. Accuracy is choice accuracy (likeliest candidate reply) for "
        "tasks with few distinct answers, else greedy exact match.\n\n";
  if (settings.contains("merge_variants") && !settings["merge_variants"].empty()) {
    md << "Merge variants (dtm.yml `merge_variants`: the same sub-models merged otherwise, rows \"DTM (split, "
          "NAME)\"):";
    for (const auto& variant : settings["merge_variants"]) md << " `" << variant.dump() << "`";
    md << ".\n\n";
  }
  if (replicated) {
    md << "Every method ran once per seed (dtm.yml `seeds`); the tables give each method's mean over its seeds, and "
          "the section \"Seeds and confidence\" their spread and intervals.\n\n";
  }
  for (const auto& set : sets) md << "## " << set << "\n\n" << results_table(methods, set) << "\n";
  if (!sets.empty()) md << ensemble_share(methods, sets.front());
  const std::vector<AlignmentTax> tax = sets.empty() ? std::vector<AlignmentTax>{} : alignment_tax(methods, sets.front());
  if (!tax.empty()) {
    md << "## Alignment tax\n\n"
       << "Fu et al.'s question: does instruction tuning cost the base model what it knew? Knowledge: each model's "
          "loss over every token of the knowledge text (evaluation.knowledge, text of the base model's pretraining "
          "distribution, in blocks of its context length); lost: that minus the base model's. Gained: the base "
          "model's "
       << sets.front() << " loss minus the model's, and its mean task accuracy minus the base's (plot: tax.png).\n\n"
       << alignment_tax_table(tax, sets.front()) << "\n";
  }
  if (replicated) {
    md << "## Seeds and confidence\n\n"
       << "Per set, each method's loss over every target token and accuracy over every scored example (choice "
          "among candidates, else exact match) as mean ± standard deviation over its seeds [95% Student t interval "
          "of the mean]. The differences from vanilla are of the seed-averaged scores, with the 95% percentile "
          "interval of a paired bootstrap over the held-out examples (10,000 resamples, seed 0); \"not separated\": "
          "the interval holds 0.\n\n";
    std::vector<std::string> scored = sets;
    if (!tax.empty()) scored.push_back("knowledge");
    for (const auto& set : scored) md << seed_interval_table(models, set) << "\n";
  }
  if (!sets.empty()) {
    const std::string diagnostic = loss_decrease_table(methods, sets.front());
    if (!diagnostic.empty()) {
      md << "## Training-loss decrease vs held-out-loss decrease\n\n"
         << "The paper's diagnostic of data biases: a training loss that falls much further than the held-out "
            "loss (a large ratio) means the run learned what is peculiar to its training data.\n\n"
         << diagnostic << "\n";
    }
  }
  std::vector<KSweepPoint> sweep;
  if (settings.contains("k") && settings["k"].is_array()) {
    sweep = k_sweep_points(methods, settings["k"].get<std::vector<std::int64_t>>());
    md << "## K sweep\n\n"
       << "DTM (k-means) at every K of cluster.k, each K its own clustering, sub-models and merge, every one with the "
          "same total optimizer steps; K = 1 is vanilla fine-tuning (its run and row). Plot: k-sweep.png.\n\n"
       << k_sweep_table(sweep, methods, sets) << "\n";
  }
  const std::string compute = compute_table(methods);
  if (!compute.empty()) {
    md << "## Compute\n\n"
       << "Each model's trainer runs (child processes, measured by each around its training; runs trained side by "
          "side share the cores, so wall times overlap).\n\n"
       << compute << "\n";
  }
  md << "Plots: task-loss.png (per-task loss), training-curves.png (every run's loss over its steps)"
     << (tax.empty() ? "" : ", tax.png (knowledge lost against instruction tasks gained)")
     << "; settings and every metric: report.json.\n";

  nlohmann::json json = {{"settings", settings}, {"sets", sets}, {"models", nlohmann::json::array()}};
  for (const auto& model : models) {
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& run : model.runs) runs.push_back(run.string());
    json["models"].push_back({{"name", model.name},
                              {"method", model.method},
                              {"seed", model.seed},
                              {"title", model.title},
                              {"metrics", model.metrics},
                              {"runs", runs}});
  }
  if (!tax.empty()) {
    json["alignment_tax"] = nlohmann::json::array();
    for (const auto& row : tax) {
      json["alignment_tax"].push_back({{"name", row.name},
                                       {"knowledge_loss", row.knowledge_loss},
                                       {"knowledge_lost", row.knowledge_lost},
                                       {"instruction_loss_gained", row.instruction_loss_gained},
                                       {"instruction_accuracy_gained", row.instruction_accuracy_gained
                                                                           ? nlohmann::json(*row.instruction_accuracy_gained)
                                                                           : nlohmann::json(nullptr)}});
    }
  }
  io::write_file_atomically(directory / "report.md", md.str());
  io::write_file_atomically(directory / "report.json", json.dump(2) + "\n");
  if (!sets.empty()) write_task_loss_plot(methods, sets.front(), directory);
  write_training_curves_plot(methods, directory);
  if (!tax.empty()) write_tax_plot(tax, sets.front(), directory);
  if (!sweep.empty()) write_k_sweep_plot(sweep, sets, directory);
  return md.str();
}

}  // namespace ladle::dtm
