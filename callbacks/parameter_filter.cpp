#include "callbacks/parameter_filter.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "lib/util/error.h"

namespace ladle::callbacks {
namespace {

std::vector<std::regex> compiled(const std::vector<std::string>& patterns, const char* role) {
  std::vector<std::regex> result;
  for (const auto& pattern : patterns) {
    try {
      result.emplace_back(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& error) {
      throw Error(std::string(role) + " pattern '" + pattern + "' is not a valid regular expression: " + error.what());
    }
  }
  return result;
}

bool any_occurs_in(const std::vector<std::regex>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::regex& pattern) { return std::regex_search(name, pattern); });
}

}  // namespace

ParameterFilter::ParameterFilter(std::vector<std::string> include, std::vector<std::string> exclude)
    : include_(compiled(include, "include")), exclude_(compiled(exclude, "exclude")) {}

bool ParameterFilter::selects(const std::string& name) const {
  return (include_.empty() || any_occurs_in(include_, name)) && !any_occurs_in(exclude_, name);
}

NamedTensors ParameterFilter::applied(NamedTensors averaged, const NamedTensors& live) const {
  if (selects_all()) return averaged;
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : averaged) {
    if (!selects(name)) tensor = live.at(name).to(tensor.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
  }
  return averaged;
}

}  // namespace ladle::callbacks
