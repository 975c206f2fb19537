// libFuzzer target: instruction data in JSON Lines through read_instruction_jsonl (lib/text/instruction_record.cpp),
// strict and with skip_bad_lines, then each record rendered and encoded with the Tulu v2 template and the byte
// tokenizer, as training does with records it accepted. A ladle::Error is a rejection as it should be; any other
// exception, a sanitizer report or a crash is a bug.
#include <cstddef>
#include <cstdint>
#include <sstream>

#include "lib/text/byte_tokenizer.h"
#include "lib/text/chat_template.h"
#include "lib/text/instruction_record.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

void read_and_encode(const std::string& text, const ladle::text::InstructionReadOptions& options) {
  static const ladle::text::ByteTokenizer tokenizer;
  static const ladle::text::ChatTemplate chat;
  std::istringstream in(text);
  try {
    const auto set = ladle::text::read_instruction_jsonl(in, "train.jsonl", options);
    for (const auto& record : set.records) (void)chat.encode(record.messages, tokenizer);
  } catch (const ladle::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = ladle::fuzz::text_of(data, size);
  read_and_encode(text, {});
  ladle::text::InstructionReadOptions lenient;
  lenient.skip_bad_lines = true;
  lenient.max_line_bytes = 4096;  // small enough for the fuzzer's inputs to reach the overlong-line path
  read_and_encode(text, lenient);
  return 0;
}
