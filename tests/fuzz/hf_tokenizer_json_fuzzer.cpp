// libFuzzer target: a tokenizer.json's text through HfTokenizer::from_tokenizer_json_text (lib/text/hf_tokenizer.cpp
// and lib/text/hf/), as a model folder's tokenizer is opened; an accepted tokenizer then encodes a fixed text (with
// and without its special tokens) and decodes the ids, as training and generation do. Every id must lie in
// [0, vocab_size()). A ladle::Error is a rejection as it should be; any other exception, a sanitizer report or a
// crash is a bug.
#include <cstddef>
#include <cstdint>

#include "lib/text/hf_tokenizer.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// Letters, digits, punctuation, runs of spaces, a newline, accented and CJK text, an emoji and special-token look-alikes.
constexpr const char* kSample = "Hello, world! It's 2024:  x+y=3.\n\t<s>héllo</s> 日本語 👍🏽 <|im_end|>";

void check_ids(const std::vector<std::int64_t>& ids, const ladle::text::HfTokenizer& tokenizer) {
  for (const auto id : ids) {
    if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto tokenizer =
        ladle::text::HfTokenizer::from_tokenizer_json_text(ladle::fuzz::text_of(data, size), "model/tokenizer.json");
    const auto ids = tokenizer->encode(kSample);
    check_ids(ids, *tokenizer);
    check_ids(tokenizer->encode_with_special_tokens(kSample), *tokenizer);
    (void)tokenizer->decode(ids);
  } catch (const ladle::Error&) {
  }
  return 0;
}
