// What every fuzz target of tests/fuzz shares: the input as text, and logging off, since a parser's warnings
// on stderr for every input would cost more than the parsing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/log/log.h"

namespace ladle::fuzz {

inline std::string text_of(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Call from LLVMFuzzerInitialize.
inline void silence_logging() {
  log::LoggingOptions options;
  options.console_level = log::Level::fatal;
  log::configure_logging(options);
}

}  // namespace ladle::fuzz
