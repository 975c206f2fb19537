#include "lib/io/json_file.h"

#include <cstdint>

#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"

namespace ladle::io {

nlohmann::json read_json_file(const std::filesystem::path& path, std::size_t max_depth) {
  constexpr std::uintmax_t kMaxBytes = 10'000'000;  // metadata files are kilobytes; anything near this is hostile
  return io::parse_json_strict(read_text_file(path, kMaxBytes), path.string(), max_depth);
}

}  // namespace ladle::io
