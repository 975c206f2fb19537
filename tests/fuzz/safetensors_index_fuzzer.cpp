// libFuzzer target: a sharded checkpoint's model.safetensors.index.json text through parse_safetensors_index
// (lib/io/safetensors_index.cpp), which CheckpointReader calls before it opens any shard. What it accepts must
// keep every shard inside the folder. A ladle::Error is a rejection as it should be; any other exception, a
// sanitizer report or a crash is a bug.
#include <cstddef>
#include <cstdint>

#include "lib/io/safetensors_index.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto index =
        ladle::io::parse_safetensors_index(ladle::fuzz::text_of(data, size), "model/model.safetensors.index.json");
    std::size_t listed = 0;
    for (const auto& [file, names] : index.tensors_by_shard) {
      if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos) __builtin_trap();
      listed += names.size();
    }
    if (listed != index.tensor_names.size()) __builtin_trap();
  } catch (const ladle::Error&) {
  }
  return 0;
}
