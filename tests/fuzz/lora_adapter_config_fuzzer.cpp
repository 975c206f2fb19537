// libFuzzer target: a PEFT LoRA adapter's adapter_config.json through parse_lora_adapter_config
// (lib/model/lora_adapter_config.cpp), as read_lora_adapter and `ladle merge lora` read it; then what the program
// does with it: the config written out (lora_adapter_config_json) must read back equal, and each rank_pattern and
// alpha_pattern key is matched against real module names (PEFT's get_pattern_key).
// A ladle::Error is the reader rejecting the input as it should; any other exception, a sanitizer report, a crash
// or a config that does not read back is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>

#include "lib/model/lora_adapter_config.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// Module names of Llama-, GPT-2- and Gemma-style models.
constexpr const char* kModules[] = {"model.layers.0.self_attn.q_proj", "model.layers.31.mlp.down_proj",
                                    "transformer.h.11.attn.c_attn", "lm_head", "model.embed_tokens"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto config =
        ladle::model::parse_lora_adapter_config(ladle::fuzz::text_of(data, size), "adapter_config.json");
    const auto written = ladle::model::lora_adapter_config_json(config);
    if (!(ladle::model::parse_lora_adapter_config(written, "written adapter_config.json") == config)) {
      std::fprintf(stderr, "adapter_config.json does not read back equal:\n%s", written.c_str());
      std::abort();
    }
    for (const char* module : kModules) {
      (void)ladle::model::pattern_value(config.rank_pattern, module);
      (void)ladle::model::pattern_value(config.alpha_pattern, module);
    }
  } catch (const ladle::Error&) {
  }
  return 0;
}
