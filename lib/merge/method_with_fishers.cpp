#include "lib/merge/method_with_fishers.h"

#include <ATen/ATen.h>

#include <cmath>
#include <set>

#include "lib/log/log.h"
#include "lib/util/error.h"

namespace ladle::merge {

std::size_t MethodWithFishers::open_file(const ModelReference& file) {
  const auto [known, inserted] = file_index_.emplace(file.path.string(), files_.size());
  if (inserted) {
    try {
      files_.push_back(std::make_unique<io::CheckpointReader>(file.path));
    } catch (...) {
      file_index_.erase(known);
      throw;
    }
  }
  return known->second;
}

void MethodWithFishers::add_tensor(const std::string& output_name, std::vector<PlannedFisher> fishers,
                                   std::optional<std::int64_t> vocabulary_rows) {
  tensors_[output_name] = TensorFishers{std::move(fishers), vocabulary_rows};
}

const std::vector<double>& MethodWithFishers::norms() const {
  std::call_once(norms_once_, [this] {
    std::vector<std::set<std::string>> names(files_.size());
    for (const auto& [output, tensor] : tensors_) {
      for (const auto& fisher : tensor.fishers) names[fisher.file].insert(fisher.tensor);
    }
    std::vector<double> norms;
    for (std::size_t file = 0; file < files_.size(); ++file) {
      double squares = 0;
      for (const auto& name : names[file]) {
        squares += files_[file]->tensor(name).to(at::kDouble).square().sum().item<double>();
      }
      norms.push_back(std::sqrt(squares));
      LADLE_LOG(info) << "Fisher norm of " << files_[file]->path().string() << ": " << norms.back();
    }
    norms_ = std::move(norms);
  });
  return norms_;
}

at::Tensor MethodWithFishers::merge(const MethodInputs& inputs) const {
  const auto found = tensors_.find(inputs.tensor_name);
  if (found == tensors_.end()) {
    throw Error(name() + ": tensor '" + inputs.tensor_name + "': the plan names no Fisher tensors for it");
  }
  MethodInputs with_fishers = inputs;
  for (const auto& fisher : found->second.fishers) {
    at::Tensor tensor = files_[fisher.file]->tensor(fisher.tensor);
    if (found->second.vocabulary_rows) tensor = tensor.narrow(0, 0, *found->second.vocabulary_rows);
    with_fishers.model_fishers.push_back(tensor);
  }
  // fisher's normalize_fishers (lib/merge/methods/fisher.h): only then are the whole-model norms read.
  const auto normalize = inputs.parameters.find("normalize_fishers");
  if (normalize != inputs.parameters.end() && normalize->second != 0) {
    std::vector<double> model_norms;
    for (const auto& fisher : found->second.fishers) model_norms.push_back(norms()[fisher.file]);
    with_fishers.model_fisher_norms = std::move(model_norms);
  }
  return method_.merge(with_fishers);
}

}  // namespace ladle::merge
