// A file with given contents in the system's temporary folder, removed when the object goes: for handing bytes
// to a library that reads only files (libsentencepiece's loader).
#pragma once

#include <filesystem>
#include <string>

namespace ladle::io {

class TemporaryFile {
 public:
  // Throws ladle::Error when the file cannot be written.
  TemporaryFile(const std::string& stem, const std::string& contents);
  ~TemporaryFile();
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ladle::io
