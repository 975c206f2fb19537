#include "lib/merge/weighted_model_sum.h"

#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "lib/merge/input_models.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_plan.h"
#include "lib/merge/merged_model_writer.h"
#include "lib/util/error.h"

namespace ladle::merge {

MergeExecutionStats write_weighted_model_sum(const std::vector<std::filesystem::path>& models,
                                             const std::vector<double>& weights, const std::filesystem::path& output,
                                             bool overwrite) {
  if (models.empty() || models.size() != weights.size()) {
    throw Error("weighted model sum: expected one weight per model, got " + std::to_string(models.size()) +
                " model(s) and " + std::to_string(weights.size()) + " weight(s)");
  }
  // normalize: false, so the sum is sum_i w_i theta_i as given (methods/linear.h).
  std::ostringstream yaml;
  yaml.precision(17);
  yaml << "merge_method: linear\nparameters: {normalize: false}\ndtype: float64\nout_dtype: float32\nmodels:\n";
  for (std::size_t i = 0; i < models.size(); ++i) {
    yaml << "  - model: " << nlohmann::json(std::filesystem::absolute(models[i]).string()).dump()
         << "\n    parameters: {weight: " << weights[i] << "}\n";
  }
  const MergeConfig config = parse_merge_config(yaml.str(), "weighted model sum", output.parent_path());
  const InputModels inputs(config);
  const MergePlan plan = plan_merge(config, inputs);
  MergedModelWriteOptions options;
  options.overwrite = overwrite;
  return write_merged_model(config, plan, inputs, output, options);
}

}  // namespace ladle::merge
