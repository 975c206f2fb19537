// The chat format held-out evaluations render instruction sets with (ladle soup --greedy, wise-ft, evolve, dtm):
// a model folder's own chat template when it has one, as `ladle train` renders that model's data, else Tulu v2's.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/text/byte_tokenizer.h"
#include "lib/text/chat_template.h"
#include "lib/text/model_chat_template.h"
#include "tests/support/command_runner.h"
#include "trainer/heldout_evaluator.h"

namespace ladle::trainer {
namespace {

TEST(HeldOutChatFormat, AModelFoldersOwnTemplateRendersTheSets) {
  const std::string dir = testing::make_temp_dir("heldout_chatml");
  // ChatML without a bos token, as Qwen's folders have it.
  std::ofstream(dir + "/tokenizer_config.json") << R"({"eos_token": "<|im_end|>", "chat_template":
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"})";
  const auto format = load_heldout_chat_format(dir, "byte");
  ASSERT_NE(dynamic_cast<const text::ModelChatTemplate*>(format.get()), nullptr);
  const text::ByteTokenizer bytes({"<|im_start|>", "<|im_end|>"});
  const auto example = format->encode({{text::ChatRole::user, "q"}, {text::ChatRole::assistant, "r"}}, bytes);
  EXPECT_EQ(bytes.decode(example.input_ids), "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\nr<|im_end|>\n");
  EXPECT_EQ(format->max_length(), 0u);  // scored whole
  std::filesystem::remove_all(dir);
}

TEST(HeldOutChatFormat, AFolderWithoutATemplateGetsTulu) {
  const std::string dir = testing::make_temp_dir("heldout_tulu");
  const auto format = load_heldout_chat_format(dir, "byte");
  EXPECT_NE(dynamic_cast<const text::ChatTemplate*>(format.get()), nullptr);
  EXPECT_EQ(format->max_length(), 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ladle::trainer
