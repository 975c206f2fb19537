// MergeGenome: the map from a CMA-ES point to a merge recipe. Each gene is one searched per-model parameter of one
// model (at one point of its layer gradient when genome.layer_groups > 1), scaled to [0, 1] over its [min, max]:
// value = min + u (max - min). A point becomes the config's `merge` template with every model's searched parameters
// set, emitted as mergekit YAML (model paths absolute): the same text is parsed into the merge::MergeConfig that is
// merged in memory and written as the result's recipe.yml, so `ladle merge recipe.yml` reproduces the merge.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipelines/evolve/evolve_config.h"

namespace ladle::evolve {

class MergeGenome {
 public:
  explicit MergeGenome(const EvolveConfig& config);

  // Genes: model-major, then parameter in config order, then gradient point.
  std::size_t size() const { return model_count_ * ranges_.size() * static_cast<std::size_t>(layer_groups_); }
  // "models[1].density" (one group) or "models[1].density[2]", for logs.
  std::vector<std::string> gene_names() const;
  // The configured initial values, in gene units.
  std::vector<double> initial_point() const;
  // Per model, its searched parameters' values: [{"weight": 0.4, "density": [0.3, 0.7]}, ...].
  nlohmann::json parameter_values(const std::vector<double>& point) const;
  // The mergekit YAML recipe of a point.
  std::string recipe_yaml(const std::vector<double>& point) const;

 private:
  double value(const std::vector<double>& point, std::size_t model, std::size_t parameter, int group) const;

  YAML::Node template_;
  std::size_t model_count_;
  std::vector<GeneRange> ranges_;
  int layer_groups_;
};

}  // namespace ladle::evolve
