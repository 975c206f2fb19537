// Reading the small JSON files that accompany weights (config.json, adapter_config.json), treated as hostile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace ladle::io {

// The largest such file read: they are kilobytes; anything near this is hostile.
inline constexpr std::uintmax_t kMaxJsonFileBytes = 10'000'000;

// Parses the file with io::parse_json_strict (no duplicate keys, at most `max_depth` levels). Throws
// ladle::Error naming the path when it cannot be read, exceeds kMaxJsonFileBytes or is not valid JSON.
nlohmann::json read_json_file(const std::filesystem::path& path, std::size_t max_depth = 32);

}  // namespace ladle::io
