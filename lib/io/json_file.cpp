#include "lib/io/json_file.h"

#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"

namespace ladle::io {

nlohmann::json read_json_file(const std::filesystem::path& path, std::size_t max_depth) {
  return io::parse_json_strict(read_text_file(path, kMaxJsonFileBytes), path.string(), max_depth);
}

}  // namespace ladle::io
