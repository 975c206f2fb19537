// Reading a whole file into memory: the one reader behind every config, state and metadata file ladle loads, with
// a size limit so that a wrong path (a multi-gigabyte checkpoint given as a config) fails with a message instead
// of exhausting memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

namespace ladle::io {

// For files whose size is the user's data (a training corpus): only memory bounds them.
inline constexpr std::uintmax_t kNoSizeLimit = std::numeric_limits<std::uintmax_t>::max();

// The file's bytes, unchanged. Throws ladle::Error "<path>: <what is wrong>" when the file is missing, is a
// directory, holds more than max_bytes, or cannot be opened or read. Reads no more than max_bytes + 1 bytes, so a
// file that reports no size (under /proc, a pipe) is bounded too.
std::string read_text_file(const std::filesystem::path& path, std::uintmax_t max_bytes);

}  // namespace ladle::io
