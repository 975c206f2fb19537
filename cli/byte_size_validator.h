// The check of a byte-size option (--out-shard-size 5G): a malformed or zero size is a usage error that names the
// option, before anything is read.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "lib/io/safetensors_writer.h"
#include "lib/util/error.h"

namespace ladle::cli {

inline CLI::Validator positive_byte_size() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        try {
          return io::parse_byte_size(text) > 0 ? "" : "must be positive, got '" + text + "'";
        } catch (const Error& error) {
          return error.what();
        }
      },
      "");
}

}  // namespace ladle::cli
