#include "lib/io/stage_fingerprint.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

#include "lib/io/atomic_file.h"
#include "lib/text/token_cache.h"

namespace ladle::io {

namespace fs = std::filesystem;

std::string fingerprint_of(const nlohmann::json& inputs) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(text::fnv1a_64(inputs.dump())));
  return hex;
}

nlohmann::json folder_identity(const fs::path& path) {
  std::error_code error;
  if (fs::is_regular_file(path, error)) {
    return {{"path", path.string()},
            {"files", {{path.filename().string(), fs::file_size(path), fs::last_write_time(path).time_since_epoch().count()}}}};
  }
  std::vector<nlohmann::json> files;
  for (const auto& entry : fs::recursive_directory_iterator(path, error)) {
    if (!entry.is_regular_file()) continue;
    files.push_back({fs::relative(entry.path(), path).string(), entry.file_size(),
                     entry.last_write_time().time_since_epoch().count()});
  }
  std::sort(files.begin(), files.end());
  return {{"path", path.string()}, {"files", files}};
}

std::string recorded_fingerprint(const fs::path& file) {
  std::ifstream in(file);
  std::string fingerprint;
  in >> fingerprint;
  return fingerprint;
}

void record_fingerprint(const fs::path& file, const std::string& fingerprint) {
  fs::create_directories(file.parent_path());
  write_file_atomically(file, fingerprint + "\n");
}

}  // namespace ladle::io
