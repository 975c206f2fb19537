#include "callbacks/wise_ft.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "lib/util/gnuplot.h"
#include "lib/io/atomic_file.h"
#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/weights/named_tensor_ops.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::callbacks {
namespace {

double metric_of(const WiseFtPoint& point, const std::string& metric) {
  const auto found = point.metrics.find(metric);
  if (found == point.metrics.end()) {
    std::string known;
    for (const auto& [name, value] : point.metrics) known += (known.empty() ? "" : ", ") + name;
    throw Error("WiSE-FT: the evaluation at alpha " + std::to_string(point.alpha) + " has no metric '" + metric +
                "' (it has: " + (known.empty() ? "none" : known) + ")");
  }
  return found->second;
}

std::set<std::string> metric_names(const WiseFtSweep& sweep) {
  std::set<std::string> names;
  for (const auto& point : sweep.points) {
    for (const auto& [name, value] : point.metrics) names.insert(name);
  }
  return names;
}

std::string number(double value) {
  std::ostringstream text;
  text << std::setprecision(6) << value;
  return text.str();
}

}  // namespace

std::vector<double> default_wise_ft_alphas() {
  std::vector<double> alphas;
  for (int i = 0; i <= 10; ++i) alphas.push_back(i / 10.0);
  return alphas;
}

NamedTensors wise_ft_weights(const NamedTensors& base, const NamedTensors& finetuned, double alpha) {
  require_same_layout(finetuned, base, "fine-tuned", "base");
  NamedTensors weights;
  for (const auto& [name, tuned] : finetuned) {
    if (!at::isFloatingType(tuned.scalar_type())) {
      weights.insert(name, tuned);
      continue;
    }
    weights.insert(name, to_storage_dtype(lerp(base.at(name), tuned, alpha), tuned.scalar_type()));
  }
  return weights;
}

WiseFtSweep wise_ft_sweep(const NamedTensors& base, const NamedTensors& finetuned, const std::vector<double>& alphas,
                          const EvaluateFn& evaluate) {
  if (alphas.empty()) throw Error("WiSE-FT: the alpha grid is empty");
  require_same_layout(finetuned, base, "fine-tuned", "base");
  WiseFtSweep sweep;
  for (const double alpha : alphas) {
    sweep.points.push_back({alpha, evaluate(wise_ft_weights(base, finetuned, alpha))});
    std::ostringstream line;
    for (const auto& [name, value] : sweep.points.back().metrics) {
      if (std::count(name.begin(), name.end(), '/') <= 1) line << " " << name << "=" << number(value);
    }
    LADLE_LOG(info) << "WiSE-FT alpha " << alpha << ":" << line.str();
  }
  return sweep;
}

std::size_t best_wise_ft_point(const WiseFtSweep& sweep, const std::string& metric, bool higher_is_better) {
  if (sweep.points.empty()) throw Error("WiSE-FT: the sweep has no points to choose from");
  std::size_t best = 0;
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    const double value = metric_of(sweep.points[i], metric);
    const double best_value = metric_of(sweep.points[best], metric);
    if (higher_is_better ? value > best_value : value < best_value) best = i;
  }
  return best;
}

std::vector<std::string> summary_metric_names(const WiseFtSweep& sweep) {
  std::vector<std::string> names;
  for (const auto& name : metric_names(sweep)) {
    const bool one_slash = std::count(name.begin(), name.end(), '/') == 1;
    if (one_slash && name.substr(name.find('/')) != "/examples") names.push_back(name);
  }
  return names;
}

std::string wise_ft_table(const WiseFtSweep& sweep, const std::vector<std::string>& metrics) {
  const std::set<std::string> all = metric_names(sweep);
  const std::vector<std::string> names = metrics.empty() ? std::vector<std::string>(all.begin(), all.end()) : metrics;
  std::ostringstream table;
  table << "| alpha |";
  for (const auto& name : names) table << " " << name << " |";
  table << "\n|---:|";
  for (std::size_t i = 0; i < names.size(); ++i) table << "---:|";
  table << "\n";
  for (const auto& point : sweep.points) {
    table << "| " << number(point.alpha) << " |";
    for (const auto& name : names) {
      const auto found = point.metrics.find(name);
      table << " " << (found == point.metrics.end() ? std::string("") : number(found->second)) << " |";
    }
    table << "\n";
  }
  return table.str();
}

bool write_wise_ft_report(const WiseFtSweep& sweep, const std::filesystem::path& directory,
                          const WiseFtReportOptions& options) {
  for (const auto& point : sweep.points) {
    metric_of(point, options.id_metric);
    metric_of(point, options.ood_metric);
  }
  std::filesystem::create_directories(directory);
  io::write_file_atomically(directory / "wise_ft.md", wise_ft_table(sweep));

  // alpha, the two plotted metrics, then every metric by name (a header line gnuplot skips as a comment).
  const std::set<std::string> names = metric_names(sweep);
  std::ostringstream data;
  data << std::setprecision(9) << "# alpha\t" << options.id_metric << "\t" << options.ood_metric;
  for (const auto& name : names) data << "\t" << name;
  data << "\n";
  for (const auto& point : sweep.points) {
    data << point.alpha << "\t" << metric_of(point, options.id_metric) << "\t" << metric_of(point, options.ood_metric);
    for (const auto& name : names) {
      const auto found = point.metrics.find(name);
      data << "\t" << (found == point.metrics.end() ? std::string("NaN") : number(found->second));
    }
    data << "\n";
  }
  const std::filesystem::path data_path = directory / "wise_ft.tsv";
  io::write_file_atomically(data_path, data.str());

  const std::filesystem::path png_path = directory / "wise_ft.png";
  std::ostringstream script;
  script << "set terminal pngcairo size 900,650 enhanced font 'sans,11'\n"
         << "set output " << gnuplot_quoted(png_path.string()) << "\n"
         << "set title " << gnuplot_quoted(options.title) << "\n"
         << "set xlabel " << gnuplot_quoted("in-distribution: " + options.id_metric) << "\n"
         << "set ylabel " << gnuplot_quoted("shifted: " + options.ood_metric) << "\n"
         << "set grid\nset key bottom right\nset datafile separator '\\t'\n"
         << "plot " << gnuplot_quoted(data_path.string())
         << " using 2:3 with linespoints linewidth 2 pointtype 7 title 'WiSE-FT, alpha from 0 (base) to 1 (fine-tuned)', \\\n"
         << "     '' using 2:3:(sprintf('α=%g', $1)) with labels offset char 1,char 0.8 notitle\n";
  const std::filesystem::path script_path = directory / "wise_ft.gp";
  io::write_file_atomically(script_path, script.str());
  return run_gnuplot(script_path);
}

}  // namespace ladle::callbacks
