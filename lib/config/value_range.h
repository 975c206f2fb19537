// The allowed interval of a numeric config key, declared with the key (at_least(1), in_closed(0, 1), ...) and
// shown in its errors and in the key reference as ">= 1", "> 0", "in [0, 1)".
#pragma once

#include <optional>
#include <string>

namespace ladle::config {

struct ValueRange {
  std::optional<double> min;  // none: unbounded below
  bool min_open = false;      // min itself excluded
  std::optional<double> max;  // none: unbounded above
  bool max_open = false;      // max itself excluded

  bool bounded() const { return min.has_value() || max.has_value(); }
  bool contains(double value) const;
  // ">= 1", "> 0", "<= 8", "in [0, 1)"; empty when unbounded.
  std::string text() const;
  // The tighter of both bounds on each side (a key's declared range within its C++ type's range).
  ValueRange intersect(const ValueRange& other) const;
};

ValueRange at_least(double min);                    // [min, inf)
ValueRange above(double min);                       // (min, inf)
ValueRange in_closed(double min, double max);       // [min, max]
ValueRange in_closed_open(double min, double max);  // [min, max)
ValueRange in_open_closed(double min, double max);  // (min, max]

// A number as the range and the messages show it: whole numbers without a fraction, others as iostream does.
std::string number_text(double value);

}  // namespace ladle::config
