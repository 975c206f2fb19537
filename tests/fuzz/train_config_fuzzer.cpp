// libFuzzer target: a train config's YAML text through TrainConfig::from_yaml (trainer/train_config.cpp: the
// schema of lib/config/, validate() and validate_sources()), then to_json() as `ladle train` writes it.
// A ladle::Error is the reader rejecting the input as it should; any other exception, a sanitizer report or a
// crash is a bug. Relative paths resolve against a folder that does not exist, so only absolute paths can name
// existing files (validate_sources() only looks at them).
#include <cstddef>
#include <cstdint>

#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"
#include "trainer/train_config.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto config = ladle::trainer::TrainConfig::from_yaml(ladle::fuzz::text_of(data, size), "train.yml",
                                                               "/nonexistent/ladle-fuzz");
    (void)config.to_json().dump();
  } catch (const ladle::Error&) {
  }
  return 0;
}
