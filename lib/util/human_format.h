// Formatting of sizes, counts, rates and durations for people (progress lines, reports, `ladle inspect`).
#pragma once

#include <cstdint>
#include <string>

namespace ladle {

// 1536 -> "1.5 KiB", 5368709120 -> "5.0 GiB" (binary units, one decimal).
std::string format_bytes(double bytes);
// 1234567 -> "1.23M", 950 -> "950" (decimal suffixes k, M, G, T).
std::string format_count(double count);
// 3.14159, 3 -> "3.142" (fixed notation, `digits` after the point).
std::string format_fixed(double value, int digits);
// 75.4 -> "1:15", 3725 -> "1:02:05"; negative or non-finite -> "?".
std::string format_duration(double seconds);

}  // namespace ladle
