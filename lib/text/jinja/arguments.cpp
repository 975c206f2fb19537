#include "lib/text/jinja/arguments.h"

#include "lib/util/error.h"

namespace ladle::text::jinja {

BoundArguments::BoundArguments(const CallArguments& arguments, const std::string& function,
                               std::vector<std::string> parameters, std::size_t required)
    : values_(parameters.size()), given_(parameters.size(), false) {
  if (arguments.positional.size() > parameters.size()) {
    throw Error(function + "() takes at most " + std::to_string(parameters.size()) + " arguments (" +
                std::to_string(arguments.positional.size()) + " given)");
  }
  for (std::size_t i = 0; i < arguments.positional.size(); ++i) {
    values_[i] = arguments.positional[i];
    given_[i] = true;
  }
  for (const auto& [key, value] : arguments.keyword) {
    std::size_t i = 0;
    while (i < parameters.size() && parameters[i] != key) ++i;
    if (i == parameters.size()) throw Error(function + "() got an unexpected keyword argument '" + key + "'");
    if (given_[i]) throw Error(function + "() got multiple values for argument '" + key + "'");
    values_[i] = value;
    given_[i] = true;
  }
  for (std::size_t i = 0; i < required; ++i) {
    if (!given_[i]) throw Error(function + "() missing required argument '" + parameters[i] + "'");
  }
}

}  // namespace ladle::text::jinja
