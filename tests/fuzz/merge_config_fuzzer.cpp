// libFuzzer target: a mergekit YAML config's text through parse_merge_config (lib/merge/merge_config.cpp), as
// `ladle merge` and `ladle merge check` read it. A ladle::Error is the reader rejecting the input as it should;
// any other exception, a sanitizer report or a crash is a bug.
#include <cstddef>
#include <cstdint>

#include "lib/merge/merge_config.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto config = ladle::merge::parse_merge_config(ladle::fuzz::text_of(data, size), "merge.yml",
                                                         "/nonexistent/ladle-fuzz");
    (void)config.referenced_models();
  } catch (const ladle::Error&) {
  }
  return 0;
}
