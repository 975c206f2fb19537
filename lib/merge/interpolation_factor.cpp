#include "lib/merge/interpolation_factor.h"

#include "lib/config/value_range.h"

namespace ladle::merge {

std::string extrapolation_warning(const std::string& what, double factor) {
  if (factor >= 0.0 && factor <= 1.0) return "";
  return what + " = " + config::number_text(factor) +
         " is outside [0, 1]: it extrapolates beyond the models instead of interpolating between them (as ExPO "
         "does); allowed, but check that this is what you meant";
}

}  // namespace ladle::merge
