#include "lib/config/value_range.h"

#include <cmath>
#include <sstream>

namespace ladle::config {

bool ValueRange::contains(double value) const {
  if (std::isnan(value)) return false;
  if (min && (min_open ? value <= *min : value < *min)) return false;
  if (max && (max_open ? value >= *max : value > *max)) return false;
  return true;
}

std::string ValueRange::text() const {
  if (min && max) {
    return "in " + std::string(min_open ? "(" : "[") + number_text(*min) + ", " + number_text(*max) +
           (max_open ? ")" : "]");
  }
  if (min) return (min_open ? "> " : ">= ") + number_text(*min);
  if (max) return (max_open ? "< " : "<= ") + number_text(*max);
  return "";
}

ValueRange ValueRange::intersect(const ValueRange& other) const {
  ValueRange result = *this;
  if (other.min && (!min || *other.min > *min || (*other.min == *min && other.min_open))) {
    result.min = other.min;
    result.min_open = other.min_open;
  }
  if (other.max && (!max || *other.max < *max || (*other.max == *max && other.max_open))) {
    result.max = other.max;
    result.max_open = other.max_open;
  }
  return result;
}

ValueRange at_least(double min) { return {min, false, std::nullopt, false}; }
ValueRange above(double min) { return {min, true, std::nullopt, false}; }
ValueRange in_closed(double min, double max) { return {min, false, max, false}; }
ValueRange in_closed_open(double min, double max) { return {min, false, max, true}; }
ValueRange in_open_closed(double min, double max) { return {min, true, max, false}; }

std::string number_text(double value) {
  std::ostringstream text;
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    text << static_cast<long long>(value);
  } else {
    text << value;
  }
  return text.str();
}

}  // namespace ladle::config
