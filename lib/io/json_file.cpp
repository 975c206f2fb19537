#include "lib/io/json_file.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "lib/io/strict_json.h"
#include "lib/util/error.h"

namespace ladle::io {

nlohmann::json read_json_file(const std::filesystem::path& path, std::size_t max_depth) {
  constexpr std::uintmax_t kMaxBytes = 10'000'000;  // metadata files are kilobytes; anything near this is hostile
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) throw Error(path.string() + ": cannot read: " + error.message());
  if (size > kMaxBytes)
    throw Error(path.string() + ": " + std::to_string(size) + " bytes is too large for a JSON file");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw Error(path.string() + ": cannot read");
  return io::parse_json_strict(text.str(), path.string(), max_depth);
}

}  // namespace ladle::io
