#include "lib/io/temporary_file.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <system_error>

#include "lib/util/error.h"

namespace ladle::io {

namespace fs = std::filesystem;

TemporaryFile::TemporaryFile(const std::string& stem, const std::string& contents) {
  static std::atomic<int> counter{0};
  path_ =
      fs::temp_directory_path() / ("ladle-" + stem + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) throw Error(path_.string() + ": cannot write a temporary file");
}

TemporaryFile::~TemporaryFile() {
  std::error_code ignored;
  fs::remove(path_, ignored);
}

}  // namespace ladle::io
