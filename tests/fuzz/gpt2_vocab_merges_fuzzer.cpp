// libFuzzer target: GPT-2's two tokenizer files, vocab.json and merges.txt, through BpeModel::from_texts
// (lib/text/hf/bpe_model.cpp), as HfTokenizer::from_vocab_and_merges reads a folder without tokenizer.json. The
// input is vocab.json's text, a NUL byte, then merges.txt's. An accepted model then encodes a few words; every id
// must be one of the vocabulary's. A ladle::Error is a rejection as it should be; any other exception, a sanitizer
// report or a crash is a bug.
#include <cstddef>
#include <cstdint>
#include <set>

#include "lib/text/hf/bpe_model.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// Byte-level words as GPT-2's pre-tokenizer hands them over ("\xC4\xA0" is the space), and one the vocabulary of
// the seeds lacks.
constexpr const char* kWords[] = {"Hello", "\xC4\xA0world", "ab", "\xE6\x97\xA5"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = ladle::fuzz::text_of(data, size);
  const auto separator = input.find('\0');
  const auto vocab = input.substr(0, separator);
  const auto merges = separator == std::string::npos ? std::string() : input.substr(separator + 1);
  try {
    const auto model = ladle::text::hf::BpeModel::from_texts(vocab, merges, "model/vocab.json", "model/merges.txt");
    std::set<std::int64_t> ids;
    for (const auto& entry : model->vocabulary().entries()) ids.insert(entry.id);
    std::vector<std::int64_t> encoded;
    for (const char* word : kWords) model->encode_word(word, encoded);
    for (const auto id : encoded) {
      if (ids.count(id) == 0) __builtin_trap();
    }
  } catch (const ladle::Error&) {
  }
  return 0;
}
