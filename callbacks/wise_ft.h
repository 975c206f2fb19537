// WiSE-FT (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022): the weight-space ensemble
// θα = (1−α)·θ_base + α·θ_finetuned (their eq. 1), swept over a grid of α and evaluated on in-distribution and
// shifted data, with a table, a plot of the ID score against the OOD score labelled by α, and the chosen α's model.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lib/weights/named_tensors.h"
#include "trainer/metrics.h"

namespace ladle::callbacks {

// Named evaluation results of one model, e.g. {"id/loss": 1.9, "ood/loss": 2.4}.
using EvaluateFn = std::function<trainer::Metrics(const NamedTensors& weights)>;

// 0, 0.1, ..., 1 (computed as i/10, so 0 and 1 are exact).
std::vector<double> default_wise_ft_alphas();

// θα name by name, computed in fp32 (fp64 where an input is fp64) with ATen's lerp formula, so α = 0 returns the
// base and α = 1 the fine-tuned weights exactly; rounded to the fine-tuned model's dtype per tensor. Non-floating
// tensors are the fine-tuned model's. Throws ladle::Error when the layouts differ.
NamedTensors wise_ft_weights(const NamedTensors& base, const NamedTensors& finetuned, double alpha);

struct WiseFtPoint {
  double alpha = 0.0;
  trainer::Metrics metrics;
};

struct WiseFtSweep {
  std::vector<WiseFtPoint> points;  // in the order of the α grid
};

// Evaluates θα for every α (one interpolated model in memory at a time). Throws ladle::Error for an empty grid.
WiseFtSweep wise_ft_sweep(const NamedTensors& base, const NamedTensors& finetuned, const std::vector<double>& alphas,
                          const EvaluateFn& evaluate);

// The index of the point with the best value of `metric` (the first one on ties); throws ladle::Error when a
// point lacks the metric. Choose on held-out in-distribution data: choosing on the shifted set tunes on the test
// distribution.
std::size_t best_wise_ft_point(const WiseFtSweep& sweep, const std::string& metric, bool higher_is_better);

// A Markdown table: one row per α, one column per metric (sorted by name), or per metric of `metrics` (in that
// order) when it is not empty.
std::string wise_ft_table(const WiseFtSweep& sweep, const std::vector<std::string>& metrics = {});

// The sweep's summary metrics: "<set>/<metric>" names (one '/': no per-task breakdown), except example counts.
std::vector<std::string> summary_metric_names(const WiseFtSweep& sweep);

struct WiseFtReportOptions {
  std::string id_metric = "id_loss";    // the x axis: the score on in-distribution held-out data
  std::string ood_metric = "ood_loss";  // the y axis: the score on a shifted set
  std::string title = "WiSE-FT: in-distribution vs shifted score over alpha";
};

// Writes into `directory` (created if needed): wise_ft.md (the table), wise_ft.tsv (α and every metric),
// wise_ft.gp (a gnuplot script) and, by running gnuplot, wise_ft.png (the ID metric against the OOD metric, one
// point per α, labelled). Returns false, after a logged warning, when gnuplot is not installed (the script is
// still there to run later); throws ladle::Error when a point lacks a plotted metric or gnuplot fails.
bool write_wise_ft_report(const WiseFtSweep& sweep, const std::filesystem::path& directory,
                          const WiseFtReportOptions& options = {});

}  // namespace ladle::callbacks
