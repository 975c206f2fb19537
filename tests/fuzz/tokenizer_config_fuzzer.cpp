// libFuzzer target: a tokenizer_config.json's text as the two readers of it see it: HfTokenizer's special tokens
// (lib/text/hf_tokenizer.cpp; special_tokens_map.json is read by the same code) beside a fixed small tokenizer.json,
// and the model's chat template and its special tokens (parse_model_chat_template, lib/text/model_chat_template.cpp),
// which then renders a fixed conversation. A ladle::Error is a rejection as it should be; any other exception, a
// sanitizer report or a crash is a bug.
#include <cstddef>
#include <cstdint>

#include "lib/text/hf_tokenizer.h"
#include "lib/text/model_chat_template.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// A BPE over a few letters (no pre-tokenizer: its regular expressions would cost more than the rest), with the
// special tokens chat templates name.
constexpr const char* kTokenizerJson = R"({
  "added_tokens": [
    {"id": 7, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 8, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 9, "content": "<|im_end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
  "model": {"type": "BPE", "vocab": {"h": 0, "i": 1, " ": 2, "a": 3, "b": 4, "hi": 5, " a": 6}, "merges": ["h i", "  a"]}})";

const std::vector<ladle::text::ChatMessage> kConversation = {
    {ladle::text::ChatRole::system, "Be brief."},
    {ladle::text::ChatRole::user, "hi"},
    {ladle::text::ChatRole::assistant, "a b"},
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ladle::text::HfTokenizer;
  const auto text = ladle::fuzz::text_of(data, size);
  try {
    const auto tokenizer = HfTokenizer::from_tokenizer_json_text(kTokenizerJson, "model/tokenizer.json", {text, {}});
    (void)tokenizer->encode_with_special_tokens("hi a</s>");
  } catch (const ladle::Error&) {
  }
  try {
    if (const auto chat = ladle::text::parse_model_chat_template(text, std::nullopt, "model")) {
      (void)chat->render(kConversation, false);
      (void)chat->segments(kConversation, false);
    }
  } catch (const ladle::Error&) {
  }
  return 0;
}
