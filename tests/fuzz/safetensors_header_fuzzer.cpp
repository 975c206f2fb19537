// libFuzzer target: the safetensors header parser (lib/io/safetensors_header.cpp), as SafetensorsReader calls it.
// A ladle::Error is the parser rejecting the input as it should; any other exception, a sanitizer report or
// a crash is a bug.
#include <cstddef>
#include <cstdint>

#include "lib/io/safetensors_header.h"
#include "lib/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto header = ladle::io::parse_safetensors_header(data, size, "fuzz-input");
    // What a reader does next with an accepted header: every range must lie inside the input.
    for (const auto& entry : header.tensors) {
      if (header.data_offset() + entry.end > size ||
          entry.nbytes() != entry.numel() * ladle::io::dtype_size(entry.dtype)) {
        __builtin_trap();
      }
    }
  } catch (const ladle::Error&) {
  }
  return 0;
}
