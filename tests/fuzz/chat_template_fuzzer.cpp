// libFuzzer target: the text of a Jinja chat template (lib/text/jinja/) through ModelChatTemplate, as a model's
// chat_template.jinja is used: compiled, then rendering a fixed conversation with and without the generation
// prompt and finding the replies in it (segments()). A ladle::Error (jinja::TemplateError included) is a rejection
// as it should be; any other exception, a sanitizer report, a crash or a timeout (RenderLimits bound every
// render) is a bug.
#include <cstddef>
#include <cstdint>

#include "lib/text/model_chat_template.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

const std::vector<ladle::text::ChatMessage> kConversation = {
    {ladle::text::ChatRole::system, "Be brief."},
    {ladle::text::ChatRole::user, "What is 2+2?"},
    {ladle::text::ChatRole::assistant, "4"},
    {ladle::text::ChatRole::user, "And <b>3+3</b>?\n"},
    {ladle::text::ChatRole::assistant, "6"},
};

ladle::text::jinja::Dict special_tokens() {
  ladle::text::jinja::Dict tokens;
  tokens.set("bos_token", ladle::text::jinja::Value(std::string("<s>")));
  tokens.set("eos_token", ladle::text::jinja::Value(std::string("</s>")));
  return tokens;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const ladle::text::ModelChatTemplate chat(ladle::fuzz::text_of(data, size), special_tokens(), "</s>");
    const std::vector<ladle::text::ChatMessage> prompt(kConversation.begin(), kConversation.end() - 1);
    (void)chat.render(prompt, true);
    (void)chat.segments(kConversation, false);
  } catch (const ladle::Error&) {
  }
  return 0;
}
