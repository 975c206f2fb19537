// Which chat format writes instruction data: the model's own template when its folder has one, Tulu v2 when
// it has none or data.chat_template is tulu; and the training examples the model's template makes.
#include <gtest/gtest.h>

#include <filesystem>

#include "lib/text/byte_tokenizer.h"
#include "lib/text/chat_template.h"
#include "lib/text/model_chat_template.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "trainer/training_data.h"

namespace ladle::trainer {
namespace {

constexpr const char* kTokenizerConfig = R"({
  "eos_token": "<|im_end|>",
  "chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
})";

class ChatFormatChoice : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("chat-format");
    std::filesystem::create_directories(dir_ + "/model");
    ladle::testing::write_text_file(dir_ + "/model/tokenizer_config.json", kTokenizerConfig);
    ladle::testing::write_text_file(dir_ + "/train.jsonl", "{\"instruction\": \"Say hi\", \"output\": \"hi\"}\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrainConfig config(const std::string& extra_data = "") const {
    return TrainConfig::from_yaml("model:\n  path: model\ntokenizer:\n  type: byte\ndata:\n  train: train.jsonl\n" +
                                      extra_data,
                                  "train.yml", dir_, {});
  }

  std::string dir_;
};

TEST_F(ChatFormatChoice, ModelFolderWithATemplateUsesIt) {
  const auto format = load_chat_format(config());
  const auto* model = dynamic_cast<const text::ModelChatTemplate*>(format.get());
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->end_of_turn(), "<|im_end|>");
  EXPECT_EQ(model->max_length(), 512u);
}

TEST_F(ChatFormatChoice, TuluIsForcedByTheConfig) {
  const auto format = load_chat_format(config("  chat_template: tulu\n"));
  EXPECT_NE(dynamic_cast<const text::ChatTemplate*>(format.get()), nullptr);
}

TEST_F(ChatFormatChoice, ModelFolderWithoutATemplateGetsTulu) {
  std::filesystem::remove(dir_ + "/model/tokenizer_config.json");
  const auto format = load_chat_format(config());
  EXPECT_NE(dynamic_cast<const text::ChatTemplate*>(format.get()), nullptr);
}

TEST_F(ChatFormatChoice, UnknownChoiceIsAnErrorNamingTheKey) {
  const auto message = ladle::testing::error_message([&] { config("  chat_template: chatml\n"); });
  EXPECT_TRUE(ladle::testing::contains(message, "chat_template")) << message;
}

// The Alpaca record as the model's template writes it, with the byte tokenizer (byte b -> 4 + b, the two
// markers as symbols 260 and 261): only "hi<|im_end|>" is trained.
TEST_F(ChatFormatChoice, AlpacaRecordsAreTrainedOnTheReplyAndItsEndOfTurn) {
  const auto data = load_training_data(config(), std::make_shared<text::ByteTokenizer>(
                                                     std::vector<std::string>{"<|im_start|>", "<|im_end|>"}),
                                       dir_);
  const auto& example = data.train->example(0);
  const text::ByteTokenizer bytes({"<|im_start|>", "<|im_end|>"});
  EXPECT_EQ(bytes.decode(example.input_ids), "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\nhi<|im_end|>\n");
  std::vector<std::int64_t> trained;
  for (const auto label : example.labels) {
    if (label != text::kIgnoreLabel) trained.push_back(label);
  }
  EXPECT_EQ(trained, (std::vector<std::int64_t>{4 + 'h', 4 + 'i', 261}));
}

}  // namespace
}  // namespace ladle::trainer
