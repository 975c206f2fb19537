#include "callbacks/parameter_filter.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace ladle::callbacks {
namespace {

std::vector<text::OnigurumaRegex> compiled(const std::vector<std::string>& patterns, const char* role) {
  std::vector<text::OnigurumaRegex> result;
  for (const auto& pattern : patterns) {
    result.emplace_back(pattern, std::string(role) + " pattern '" + pattern + "'", text::RegexSyntax::python);
  }
  return result;
}

bool any_occurs_in(const std::vector<text::OnigurumaRegex>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const text::OnigurumaRegex& pattern) { return pattern.found_in(name); });
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
