#include "lib/util/human_format.h"

#include <cmath>
#include <cstdio>

namespace ladle {
namespace {

std::string scaled(double value, double base, const char* const* suffixes, int count, const char* format) {
  int index = 0;
  while (std::fabs(value) >= base && index + 1 < count) {
    value /= base;
    ++index;
  }
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, index == 0 ? "%.0f%s" : format, value, suffixes[index]);
  return buffer;
}

}  // namespace

std::string format_bytes(double bytes) {
  static const char* const suffixes[] = {" B", " KiB", " MiB", " GiB", " TiB", " PiB"};
  return scaled(bytes, 1024.0, suffixes, 6, "%.1f%s");
}

std::string format_count(double count) {
  static const char* const suffixes[] = {"", "k", "M", "G", "T"};
  return scaled(count, 1000.0, suffixes, 5, "%.3g%s");
}

std::string format_fixed(double value, int digits) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto total = static_cast<long long>(std::llround(seconds));
  long long hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  char buffer[64];
  if (hours > 0) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", hours, minutes, secs);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", minutes, secs);
  }
  return buffer;
}

}  // namespace ladle
