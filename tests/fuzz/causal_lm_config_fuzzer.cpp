// libFuzzer target: a model's config.json text through CausalLmConfig::from_text (lib/model/causal_lm_config.cpp),
// as a model folder is opened. An accepted config must survive what saving a model does with it: to_json() read
// back gives a config that is accepted again. A ladle::Error is a rejection as it should be; any other exception,
// a sanitizer report, a crash or a saved config that reads back as an error is a bug.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "lib/model/causal_lm_config.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ladle::model::CausalLmConfig;
  std::optional<CausalLmConfig> config;
  try {
    config = CausalLmConfig::from_text(ladle::fuzz::text_of(data, size), "model/config.json");
  } catch (const ladle::Error&) {
    return 0;
  }
  (void)config->attention_head_dim();
  (void)config->attention_scale();
  (void)CausalLmConfig::from_json(config->to_json(), "saved config.json");  // throws (a finding) when not accepted
  return 0;
}
