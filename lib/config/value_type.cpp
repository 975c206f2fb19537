#include "lib/config/value_type.h"

namespace ladle::config {

void check_in_range(double value, const std::string& what, const ValueRange& range, const std::string& key) {
  if (!range.contains(value))
    throw ConfigError(key, "expected " + described(what, range) + ", got " + number_text(value));
}

}  // namespace ladle::config
