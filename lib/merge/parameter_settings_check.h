// The check of the parameters a merge config writes against the method's declarations (ParameterSpec), shared by
// the planner (`ladle merge`, `ladle merge check`) and the adapter merger (`ladle merge lora-adapters`), so both
// accept and refuse the same settings before any tensor is read.
#pragma once

#include <string>
#include <vector>

#include "lib/merge/merge_config.h"
#include "lib/merge/merge_method.h"

namespace ladle::merge {

// Where a group of settings is written: "models[1].parameters" and, for messages, whose values they are.
struct SettingsPlace {
  std::string key_path;         // "parameters", "slices[0].parameters", "models[1].parameters"
  bool per_model_only = false;  // a model's own settings: method-wide parameters are refused there
  std::string owner;            // "model 'b', " for a model's own settings, else empty
};

// Every parameter in `settings` must be one the method takes (mergekit's memory options such as int8_mask are
// accepted with a warning), per model where the place allows only those, and every value written (each point of a
// gradient, each filtered entry) within its declared range. Throws ladle::Error "<file>:<line>: <key>: ..."
// ("merge.yml:7: models[1].parameters.density: expected a number in [0, 1], got 1.5 (model 'b', merge_method
// ties)"). An interpolation factor outside [0, 1] adds a warning saying it extrapolates.
void check_parameter_settings(const MergeConfig& config, const MergeMethod& method, const ParameterSettings& settings,
                              const SettingsPlace& place, std::vector<std::string>& warnings);

}  // namespace ladle::merge
