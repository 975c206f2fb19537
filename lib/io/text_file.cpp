#include "lib/io/text_file.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "lib/util/error.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& path, const std::string& message) {
  throw Error(path.string() + ": " + message);
}

// `size` is the stat size, or "more than <max_bytes>" for a file read past the limit.
[[noreturn]] void fail_too_large(const fs::path& path, const std::string& size, std::uintmax_t max_bytes) {
  fail(path, "too large: " + size + " bytes, where at most " + std::to_string(max_bytes) + " are expected");
}

}  // namespace

std::string read_text_file(const fs::path& path, std::uintmax_t max_bytes) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (status.type() == fs::file_type::not_found) fail(path, "no such file");
  if (error) fail(path, "cannot read: " + error.message());
  if (fs::is_directory(status)) fail(path, "is a directory, not a file");
  std::string text;
  if (fs::is_regular_file(status)) {
    const std::uintmax_t size = fs::file_size(path, error);
    if (error) fail(path, "cannot read: " + error.message());
    if (size > max_bytes) fail_too_large(path, std::to_string(size), max_bytes);
    text.reserve(size);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::array<char, 1 << 16> buffer;
  while (in) {
    // At most one byte past the limit: enough to tell a file that grew since its size was taken, or had none.
    const std::uintmax_t left = max_bytes - text.size();
    const std::size_t chunk = left < buffer.size() ? static_cast<std::size_t>(left) + 1 : buffer.size();
    in.read(buffer.data(), static_cast<std::streamsize>(chunk));
    text.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) fail_too_large(path, "more than " + std::to_string(max_bytes), max_bytes);
  }
  if (in.bad()) fail(path, std::string("cannot read: ") + std::strerror(errno));
  return text;
}

}  // namespace ladle::io
