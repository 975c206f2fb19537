#include "pipelines/dtm/dtm_seed_statistics.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>

#include "lib/util/confidence_interval.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"

namespace ladle::dtm {
namespace {

// The replicates of each method, in the order of first appearance.
std::vector<std::vector<const ModelScores*>> by_method(const std::vector<ModelScores>& replicates) {
  std::vector<std::vector<const ModelScores*>> groups;
  std::map<std::string, std::size_t> index;
  for (const auto& model : replicates) {
    const auto [found, added] = index.emplace(model.method, groups.size());
    if (added) groups.emplace_back();
    groups[found->second].push_back(&model);
  }
  return groups;
}

// One replicate's headline numbers on a set, from its per-example scores: the loss over every target token, and the
// fraction of scored examples answered right (nullopt without generation examples).
struct Headline {
  double loss = 0;
  std::optional<double> accuracy;
};

Headline headline(const trainer::ExampleScores& scores) {
  const double loss = std::accumulate(scores.loss_sum.begin(), scores.loss_sum.end(), 0.0);
  const double tokens = std::accumulate(scores.tokens.begin(), scores.tokens.end(), 0.0);
  Headline numbers{tokens > 0 ? loss / tokens : 0, std::nullopt};
  if (!scores.accuracy.empty()) {
    numbers.accuracy = std::accumulate(scores.accuracy.begin(), scores.accuracy.end(), 0.0) /
                       static_cast<double>(scores.accuracy.size());
  }
  return numbers;
}

// Every example's score averaged over a method's replicates: loss per target token of the loss examples that have
// targets (weighted by their tokens in the bootstrap), and accuracy.
struct SeedAveraged {
  std::vector<double> loss, tokens, accuracy;
};

SeedAveraged seed_averaged(const std::vector<const ModelScores*>& group, const std::string& set) {
  SeedAveraged averaged;
  const auto count = static_cast<double>(group.size());
  for (const ModelScores* model : group) {
    const trainer::ExampleScores& scores = model->examples.at(set);
    if (averaged.tokens.empty()) {
      averaged.tokens = scores.tokens;
      averaged.loss.assign(scores.tokens.size(), 0.0);
      averaged.accuracy.assign(scores.accuracy.size(), 0.0);
    }
    if (scores.tokens != averaged.tokens || scores.accuracy.size() != averaged.accuracy.size()) {
      throw Error("dtm report: " + model->name + " was scored on other " + set +
                  " examples than its method's first seed; evaluate every model with the same evaluation section");
    }
    for (std::size_t i = 0; i < scores.loss_sum.size(); ++i) {
      if (scores.tokens[i] > 0) averaged.loss[i] += scores.loss_sum[i] / scores.tokens[i] / count;
    }
    for (std::size_t i = 0; i < scores.accuracy.size(); ++i) averaged.accuracy[i] += scores.accuracy[i] / count;
  }
  // An example truncated to no target tokens has no loss: it leaves the comparison.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < averaged.tokens.size(); ++i) {
    if (averaged.tokens[i] > 0) averaged.loss[kept] = averaged.loss[i], averaged.tokens[kept++] = averaged.tokens[i];
  }
  averaged.loss.resize(kept);
  averaged.tokens.resize(kept);
  return averaged;
}

std::string signed_fixed(double value, int digits) { return (value >= 0 ? "+" : "") + format_fixed(value, digits); }

// "3.320 ± 0.012 [3.290, 3.350]" (as percentages with `percent`); one seed: the value alone.
std::string mean_cell(const std::vector<double>& values, bool percent) {
  const double scale = percent ? 100 : 1;
  const int digits = percent ? 1 : 3;
  const std::string unit = percent ? "%" : "";
  const MeanWithInterval summary = mean_with_t_interval(values);
  std::string cell = format_fixed(scale * summary.mean, digits) + unit;
  if (summary.count < 2) return cell;
  return cell + " ± " + format_fixed(scale * summary.standard_deviation, digits) + " [" +
         format_fixed(scale * summary.interval.lower, digits) + ", " +
         format_fixed(scale * summary.interval.upper, digits) + "]";
}

// "-0.052 [-0.070, -0.031]", with "not separated" when the interval holds 0.
std::string difference_cell(const std::vector<double>& a, const std::vector<double>& b,
                            const std::vector<double>& weights, bool percent) {
  const double scale = percent ? 100 : 1;
  const int digits = percent ? 1 : 3;
  const std::string unit = percent ? " pt" : "";
  double difference = 0, weight = 0;
  for (std::size_t i = 0; i < a.size(); ++i) difference += weights[i] * (a[i] - b[i]), weight += weights[i];
  const ConfidenceInterval interval = paired_bootstrap_interval(a, b, weights);
  return signed_fixed(scale * difference / weight, digits) + unit + " [" +
         signed_fixed(scale * interval.lower, digits) + ", " + signed_fixed(scale * interval.upper, digits) + "]" +
         (interval.excludes(0) ? "" : " not separated");
}

}  // namespace

std::vector<ModelScores> seed_means(const std::vector<ModelScores>& replicates) {
  std::vector<ModelScores> means;
  for (const auto& group : by_method(replicates)) {
    ModelScores mean = *group.front();
    mean.name = mean.method;
    mean.metrics.clear();
    mean.examples.clear();
    for (const auto& [name, value] : group.front()->metrics) {
      double sum = 0;
      bool everywhere = true;
      for (const ModelScores* model : group) {
        const auto found = model->metrics.find(name);
        everywhere = everywhere && found != model->metrics.end();
        if (found != model->metrics.end()) sum += found->second;
      }
      if (everywhere) mean.metrics[name] = sum / static_cast<double>(group.size());
    }
    for (std::size_t i = 1; i < group.size(); ++i) {
      mean.runs.insert(mean.runs.end(), group[i]->runs.begin(), group[i]->runs.end());
    }
    means.push_back(std::move(mean));
  }
  return means;
}

bool has_replicates(const std::vector<ModelScores>& replicates) {
  return by_method(replicates).size() != replicates.size();
}

std::string seed_interval_table(const std::vector<ModelScores>& replicates, const std::string& set) {
  std::vector<std::vector<const ModelScores*>> groups;
  for (auto& group : by_method(replicates)) {
    if (std::all_of(group.begin(), group.end(), [&](const ModelScores* m) { return m->examples.count(set) != 0; })) {
      groups.push_back(std::move(group));
    }
  }
  const auto vanilla = std::find_if(groups.begin(), groups.end(),
                                    [](const auto& group) { return group.front()->method == "vanilla"; });
  std::optional<SeedAveraged> vanilla_scores;
  if (vanilla != groups.end()) vanilla_scores = seed_averaged(*vanilla, set);
  std::ostringstream table;
  table << "| model (" << set << ") | seeds | loss (every token) | accuracy (every scored example) |";
  if (vanilla_scores) table << " loss − vanilla's | accuracy − vanilla's |";
  table << "\n|---|---|---|---|" << (vanilla_scores ? "---|---|" : "") << "\n";
  for (const auto& group : groups) {
    std::vector<double> losses, accuracies;
    for (const ModelScores* model : group) {
      const Headline numbers = headline(model->examples.at(set));
      losses.push_back(numbers.loss);
      if (numbers.accuracy) accuracies.push_back(*numbers.accuracy);
    }
    table << "| " << group.front()->title << " | " << group.size() << " | " << mean_cell(losses, false) << " | "
          << (accuracies.size() == group.size() ? mean_cell(accuracies, true) : "–") << " |";
    if (vanilla_scores) {
      if (&group == &*vanilla) {
        table << " – | – |";
      } else {
        const SeedAveraged scores = seed_averaged(group, set);
        if (scores.tokens != vanilla_scores->tokens || scores.accuracy.size() != vanilla_scores->accuracy.size()) {
          throw Error("dtm report: " + group.front()->name + " and vanilla were scored on other " + set + " examples");
        }
        table << " " << difference_cell(scores.loss, vanilla_scores->loss, scores.tokens, false) << " | "
              << (scores.accuracy.empty()
                      ? "–"
                      : difference_cell(scores.accuracy, vanilla_scores->accuracy,
                                        std::vector<double>(scores.accuracy.size(), 1.0), true))
              << " |";
      }
    }
    table << "\n";
  }
  return table.str();
}

}  // namespace ladle::dtm
