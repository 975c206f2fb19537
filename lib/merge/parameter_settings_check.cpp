#include "lib/merge/parameter_settings_check.h"

#include <algorithm>
#include <set>

#include "lib/config/suggestion.h"
#include "lib/config/value_range.h"
#include "lib/merge/interpolation_factor.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

// mergekit options that change how it stores intermediate masks, never the result; accepted with a warning.
const std::set<std::string> kIgnoredParameters = {"int8_mask"};

const ParameterSpec* find_spec(const std::vector<ParameterSpec>& specs, const std::string& name) {
  const auto found = std::find_if(specs.begin(), specs.end(), [&](const ParameterSpec& spec) { return spec.name == name; });
  return found == specs.end() ? nullptr : &*found;
}

// Each written value of one setting against the spec's range (and the interpolation-factor warning).
void check_values(const MergeConfig& config, const MergeMethod& method, const ParameterSetting& setting,
                  const ParameterSpec& spec, const std::string& key, const std::string& owner,
                  std::vector<std::string>& warnings) {
  const bool filtered = setting.entries.size() > 1 || setting.entries.front().filter.has_value();
  for (std::size_t entry = 0; entry < setting.entries.size(); ++entry) {
    const FilteredValue& written = setting.entries[entry];
    const std::vector<double>& values = written.value.values;
    for (std::size_t point = 0; point < values.size(); ++point) {
      const std::string value_key = key + (filtered ? "[" + std::to_string(entry) + "].value" : "") +
                                    (values.size() > 1 ? "[" + std::to_string(point) + "]" : "");
      const double value = values[point];
      if (!spec.range.contains(value)) {
        throw Error(config.where(written.line) + ": " + value_key + ": expected a number " + spec.range.text() +
                    ", got " + config::number_text(value) + " (" + owner + "merge_method " + method.name() + ")");
      }
      if (spec.interpolation_factor) {
        const std::string warning = extrapolation_warning(method.name() + "'s " + spec.name, value);
        if (!warning.empty()) warnings.push_back(config.where(written.line) + ": " + value_key + ": " + warning);
      }
    }
  }
}

}  // namespace

void check_parameter_settings(const MergeConfig& config, const MergeMethod& method, const ParameterSettings& settings,
                              const SettingsPlace& place, std::vector<std::string>& warnings) {
  const std::vector<ParameterSpec> specs = method.parameters();
  for (const auto& [name, setting] : settings) {
    const std::string key = place.key_path + "." + name;
    const ParameterSpec* spec = find_spec(specs, name);
    if (spec == nullptr && kIgnoredParameters.count(name)) {
      warnings.push_back(config.where(setting.line) + ": " + key +
                         ": ignored (a mergekit memory option that does not change the result)");
      continue;
    }
    if (spec == nullptr) {
      std::vector<std::string> known;
      for (const auto& declared : specs) known.push_back(declared.name);
      std::sort(known.begin(), known.end());
      throw Error(config.where(setting.line) + ": " + key + ": unknown parameter for merge_method " + method.name() +
                  config::did_you_mean(name, known) + " (its parameters: " +
                  (known.empty() ? "none" : config::comma_list(known)) + ")");
    }
    if (place.per_model_only && !spec->per_model) {
      throw Error(config.where(setting.line) + ": " + key + ": '" + name + "' is a method-wide parameter of " +
                  method.name() + "; set it under the top-level or the slice's parameters");
    }
    check_values(config, method, setting, *spec, key, place.owner, warnings);
  }
}

}  // namespace ladle::merge
