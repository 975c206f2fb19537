#include "pipelines/evolve/merge_genome.h"

#include <limits>

#include "lib/util/error.h"

namespace ladle::evolve {

MergeGenome::MergeGenome(const EvolveConfig& config)
    : template_(config.merge_template),
      model_count_(config.model_count),
      ranges_(config.genome.parameters),
      layer_groups_(config.genome.layer_groups) {}

std::vector<std::string> MergeGenome::gene_names() const {
  std::vector<std::string> names;
  for (std::size_t m = 0; m < model_count_; ++m) {
    for (const auto& range : ranges_) {
      for (int g = 0; g < layer_groups_; ++g) {
        names.push_back("models[" + std::to_string(m) + "]." + range.parameter +
                        (layer_groups_ > 1 ? "[" + std::to_string(g) + "]" : ""));
      }
    }
  }
  return names;
}

std::vector<double> MergeGenome::initial_point() const {
  std::vector<double> point;
  for (std::size_t m = 0; m < model_count_; ++m) {
    for (const auto& range : ranges_) point.insert(point.end(), layer_groups_, (range.initial - range.min) / (range.max - range.min));
  }
  return point;
}

double MergeGenome::value(const std::vector<double>& point, std::size_t model, std::size_t parameter, int group) const {
  const std::size_t gene = (model * ranges_.size() + parameter) * static_cast<std::size_t>(layer_groups_) + group;
  const GeneRange& range = ranges_[parameter];
  return range.min + point.at(gene) * (range.max - range.min);
}

nlohmann::json MergeGenome::parameter_values(const std::vector<double>& point) const {
  if (point.size() != size()) throw Error("merge genome: expected " + std::to_string(size()) + " genes");
  nlohmann::json models = nlohmann::json::array();
  for (std::size_t m = 0; m < model_count_; ++m) {
    nlohmann::json values = nlohmann::json::object();
    for (std::size_t p = 0; p < ranges_.size(); ++p) {
      if (layer_groups_ == 1) {
        values[ranges_[p].parameter] = value(point, m, p, 0);
        continue;
      }
      nlohmann::json gradient = nlohmann::json::array();
      for (int g = 0; g < layer_groups_; ++g) gradient.push_back(value(point, m, p, g));
      values[ranges_[p].parameter] = gradient;
    }
    models.push_back(values);
  }
  return models;
}

std::string MergeGenome::recipe_yaml(const std::vector<double>& point) const {
  const nlohmann::json values = parameter_values(point);
  YAML::Node recipe = YAML::Clone(template_);
  for (std::size_t m = 0; m < model_count_; ++m) {
    YAML::Node parameters = recipe["models"][m]["parameters"];
    for (const auto& [name, setting] : values[m].items()) {
      if (setting.is_array()) {
        parameters[name] = setting.get<std::vector<double>>();
      } else {
        parameters[name] = setting.get<double>();
      }
    }
  }
  YAML::Emitter out;
  // Shortest text that reads back as the same double, so the recipe on disk is the recipe that was scored.
  out.SetDoublePrecision(std::numeric_limits<double>::max_digits10);
  out << recipe;
  return std::string(out.c_str()) + "\n";
}

}  // namespace ladle::evolve
