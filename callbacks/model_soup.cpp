#include "callbacks/model_soup.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <iomanip>
#include <memory>
#include <numeric>
#include <sstream>

#include "lib/io/model_folder.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/util/progress_line.h"
#include "lib/weights/named_tensor_ops.h"
#include "lib/weights/nonfinite_values.h"
#include "lib/weights/tensor_ops.h"

namespace ladle::callbacks {
namespace {

using CandidateLoader = std::function<NamedTensors(std::size_t)>;

std::string candidate_label(std::size_t index) { return "candidate " + std::to_string(index); }

bool is_floating(const at::Tensor& tensor) { return at::isFloatingType(tensor.scalar_type()); }

// sum ← (a copy of) candidate in the accumulation dtype, name by name; non-floating tensors are kept as they are.
NamedTensors accumulator_of(const NamedTensors& candidate) {
  at::NoGradGuard no_grad;
  NamedTensors sum;
  for (const auto& [name, tensor] : candidate) {
    sum.insert(name, is_floating(tensor) ? tensor.to(accumulation_dtype({tensor}), false, /*copy=*/true) : tensor);
  }
  return sum;
}

// sum + candidate, name by name, as fresh tensors (non-floating tensors stay the sum's).
NamedTensors plus(const NamedTensors& sum, const NamedTensors& candidate) {
  at::NoGradGuard no_grad;
  NamedTensors result;
  for (const auto& [name, tensor] : sum) result.insert(name, is_floating(tensor) ? tensor.add(candidate.at(name)) : tensor);
  return result;
}

// sum / count, rounded to the reference's dtype per tensor.
NamedTensors mean_in_dtypes_of(const NamedTensors& sum, std::size_t count, const NamedTensors& reference) {
  at::NoGradGuard no_grad;
  NamedTensors mean;
  for (const auto& [name, tensor] : sum) {
    mean.insert(name, is_floating(tensor)
                          ? to_storage_dtype(tensor.div(static_cast<double>(count)), reference.at(name).scalar_type())
                          : tensor);
  }
  return mean;
}

GreedySoupResult greedy(std::size_t count, const CandidateLoader& load, const SoupScoreFn& score,
                        const GreedySoupOptions& options) {
  if (count == 0) throw Error("greedy soup: no candidates given");
  const auto better = [&](double a, double b) { return options.higher_is_better ? a > b : a < b; };
  const NamedTensors reference = load(0);

  std::vector<double> individual(count);
  for (std::size_t i = 0; i < count; ++i) {
    const NamedTensors candidate = load(i);
    require_same_layout(candidate, reference, candidate_label(i), candidate_label(0));
    individual[i] = score(candidate);
    LADLE_LOG(info) << "greedy soup: " << candidate_label(i) << " scores " << individual[i];
  }
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return better(individual[a], individual[b]); });

  GreedySoupResult result;
  NamedTensors sum = accumulator_of(load(order[0]));
  result.ingredients = {order[0]};
  result.score = individual[order[0]];
  result.weights = mean_in_dtypes_of(sum, 1, reference);
  result.steps.push_back({order[0], individual[order[0]], std::nullopt, true});
  for (std::size_t j = 1; j < count; ++j) {
    const std::size_t index = order[j];
    NamedTensors trial_sum = plus(sum, load(index));
    NamedTensors trial = mean_in_dtypes_of(trial_sum, result.ingredients.size() + 1, reference);
    const double trial_score = score(trial);
    const bool accepted = better(trial_score, result.score);
    LADLE_LOG(info) << "greedy soup: with " << candidate_label(index) << " the soup scores " << trial_score
                    << (accepted ? " (better: kept)" : " (not better: rejected)");
    result.steps.push_back({index, individual[index], trial_score, accepted});
    if (!accepted) continue;
    sum = std::move(trial_sum);
    result.weights = std::move(trial);
    result.ingredients.push_back(index);
    result.score = trial_score;
  }
  return result;
}

// "candidate '<path>'", for the errors about a candidate's tensors.
std::string candidate_label(const std::filesystem::path& path) { return "candidate '" + path.string() + "'"; }

}  // namespace

NamedTensors uniform_soup(const std::vector<const NamedTensors*>& candidates) {
  if (candidates.empty()) throw Error("uniform soup: no candidates given");
  for (std::size_t i = 1; i < candidates.size(); ++i) {
    require_same_layout(*candidates[i], *candidates[0], candidate_label(i), candidate_label(0));
  }
  const std::vector<double> weights(candidates.size(), 1.0);
  NamedTensors soup;
  for (const auto& [name, first] : *candidates[0]) {
    if (!is_floating(first)) {
      soup.insert(name, first);
      continue;
    }
    std::vector<at::Tensor> tensors;
    for (const NamedTensors* candidate : candidates) tensors.push_back(candidate->at(name));
    soup.insert(name, to_storage_dtype(weighted_mean(tensors, weights), first.scalar_type()));
  }
  return soup;
}

std::filesystem::path uniform_soup(const std::vector<std::filesystem::path>& candidates,
                                   const std::filesystem::path& output, const io::CheckpointWriteOptions& options,
                                   const SoupInputOptions& input) {
  if (candidates.empty()) throw Error("uniform soup: no candidates given");
  std::vector<std::unique_ptr<io::CheckpointReader>> readers;
  for (const auto& path : candidates) readers.push_back(std::make_unique<io::CheckpointReader>(path));
  const io::CheckpointReader& first = *readers.front();
  for (std::size_t i = 1; i < readers.size(); ++i) {
    const io::CheckpointReader& other = *readers[i];
    if (other.names().size() != first.names().size()) {
      throw Error("uniform soup: " + other.path().string() + " has " + std::to_string(other.names().size()) +
                  " tensors, " + first.path().string() + " has " + std::to_string(first.names().size()));
    }
    for (const auto& name : first.names()) {
      if (!other.contains(name)) throw Error("uniform soup: " + other.path().string() + " has no tensor '" + name + "'");
      if (other.entry(name).shape != first.entry(name).shape) {
        throw Error("uniform soup: tensor '" + name + "' has another shape in " + other.path().string() + " than in " +
                    first.path().string());
      }
    }
  }
  auto writer = io::open_model_folder(output, candidates.front(), options);
  const std::vector<double> weights(readers.size(), 1.0);
  ProgressOptions progress_options;
  progress_options.item_name = "tensors";
  ProgressLine progress("soup", first.names().size(), progress_options);
  for (const auto& name : first.names()) {
    const at::Tensor reference = first.tensor(name);
    if (!is_floating(reference)) {
      writer->add(name, reference);
    } else {
      std::vector<at::Tensor> tensors;
      for (const auto& reader : readers) {
        tensors.push_back(reader->tensor(name));
        if (!input.allow_nonfinite) require_finite(tensors.back(), candidate_label(reader->path()), name);
      }
      writer->add(name, to_storage_dtype(weighted_mean(tensors, weights), reference.scalar_type()));
    }
    progress.advance();
  }
  progress.finish();
  return writer->finish();
}

GreedySoupResult greedy_soup(const std::vector<const NamedTensors*>& candidates, const SoupScoreFn& score,
                             const GreedySoupOptions& options) {
  return greedy(candidates.size(), [&](std::size_t i) { return *candidates.at(i); }, score, options);
}

GreedySoupResult greedy_soup(const std::vector<std::filesystem::path>& candidates, const SoupScoreFn& score,
                             const GreedySoupOptions& options, const SoupInputOptions& input) {
  const auto load = [&](std::size_t i) {
    NamedTensors weights = io::CheckpointReader(candidates.at(i)).load_all();
    if (!input.allow_nonfinite) require_finite(weights, candidate_label(candidates.at(i)));
    return weights;
  };
  return greedy(candidates.size(), load, score, options);
}

std::string describe_greedy_soup(const GreedySoupResult& result, const std::vector<std::string>& labels) {
  std::ostringstream text;
  text << std::setprecision(6);
  for (const auto& step : result.steps) {
    const std::string label = step.candidate < labels.size() ? labels[step.candidate] : candidate_label(step.candidate);
    text << label << ": score " << step.individual_score;
    if (step.soup_score) text << ", soup with it " << *step.soup_score;
    text << (step.accepted ? " -> kept" : " -> rejected") << "\n";
  }
  text << "soup of " << result.ingredients.size() << " ingredient(s), score " << result.score << "\n";
  return text.str();
}

}  // namespace ladle::callbacks
