// The Tulu v2 chat template: rendered text, response-only loss masks worked out by hand with the byte
// tokenizer (byte b -> 4 + b; <|system|> 260, <|user|> 261, <|assistant|> 262; bos 1, eos 2), and truncation.
#include "lib/text/chat_template.h"

#include <gtest/gtest.h>

#include "lib/text/byte_tokenizer.h"
#include "lib/text/instruction_dataset.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

using Ids = std::vector<std::int64_t>;
constexpr std::int64_t X = kIgnoreLabel;
constexpr std::int64_t kNewline = 4 + '\n';  // 14
constexpr std::int64_t kSystem = 260, kUser = 261, kAssistant = 262;

ByteTokenizer chat_tokenizer() { return ByteTokenizer({"<|system|>", "<|user|>", "<|assistant|>"}); }

std::int64_t byte(char c) { return 4 + static_cast<unsigned char>(c); }

TEST(ChatTemplate, RendersTuluV2Text) {
  // open-instruct's _concat_messages of these messages, stripped, after bos.
  const std::vector<ChatMessage> messages = {{ChatRole::system, "Be brief."},
                                             {ChatRole::user, " Hi \n"},
                                             {ChatRole::assistant, "Hello."},
                                             {ChatRole::user, "Bye"},
                                             {ChatRole::assistant, "Ok"}};
  EXPECT_EQ(ChatTemplate::to_text(ChatTemplate().render(messages)),
            "<s><|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello.</s>\n<|user|>\nBye\n<|assistant|>\nOk</s>");
}

TEST(ChatTemplate, GenerationPromptEndsWithTheAssistantHeader) {
  const std::vector<ChatMessage> messages = {{ChatRole::user, "Hi"}};
  EXPECT_EQ(ChatTemplate::to_text(ChatTemplate().render_prompt(messages)), "<s><|user|>\nHi\n<|assistant|>\n");
  const auto tokenizer = chat_tokenizer();
  EXPECT_EQ(ChatTemplate().encode_prompt(messages, tokenizer),
            (Ids{1, kUser, kNewline, byte('H'), byte('i'), kNewline, kAssistant, kNewline}));
}

TEST(ChatTemplate, LossMaskCoversExactlyTheReplyAndItsEos) {
  const auto tokenizer = chat_tokenizer();
  const auto example = ChatTemplate().encode({{ChatRole::user, "Hi"}, {ChatRole::assistant, "Yo"}}, tokenizer);
  // <s> "<|user|>\n" "Hi" "\n<|assistant|>\n" "Yo" </s>, a byte being 4 + ASCII: H 76, i 109, Y 93, o 115.
  const Ids ids = {1, kUser, kNewline, 76, 109, kNewline, kAssistant, kNewline, 93, 115, 2};
  const Ids labels = {X, X, X, X, X, X, X, X, 93, 115, 2};
  EXPECT_EQ(example.input_ids, ids);
  EXPECT_EQ(example.labels, labels);
}

TEST(ChatTemplate, EveryReplyOfAMultiTurnConversationIsTrained) {
  const auto tokenizer = chat_tokenizer();
  const auto example = ChatTemplate().encode({{ChatRole::system, "s"},
                                              {ChatRole::user, "a"},
                                              {ChatRole::assistant, "b"},
                                              {ChatRole::user, "c"},
                                              {ChatRole::assistant, "d"}},
                                             tokenizer);
  const Ids ids = {1,        kSystem,    kNewline, byte('s'),      // <s><|system|>\ns
                   kNewline, kUser,      kNewline, byte('a'),      // \n<|user|>\na
                   kNewline, kAssistant, kNewline, byte('b'), 2,   // \n<|assistant|>\nb</s>
                   kNewline, kUser,      kNewline, byte('c'),      // \n<|user|>\nc
                   kNewline, kAssistant, kNewline, byte('d'), 2};  // \n<|assistant|>\nd</s>
  // Trained: b and its eos (positions 11, 12), d and its eos (20, 21).
  const Ids labels = {X, X, X, X, X, X, X, X, X, X, X, 102, 2, X, X, X, X, X, X, X, 104, 2};
  EXPECT_EQ(example.input_ids, ids);
  EXPECT_EQ(example.labels, labels);
}

TEST(ChatTemplate, TrainOnAllTokensMakesEveryTokenATarget) {
  const auto tokenizer = chat_tokenizer();
  ChatTemplateOptions options;
  options.train_on_all_tokens = true;
  const auto example = ChatTemplate(options).encode({{ChatRole::user, "Hi"}, {ChatRole::assistant, "Yo"}}, tokenizer);
  EXPECT_EQ(example.labels, example.input_ids);
}

TEST(ChatTemplate, WithoutBosTheSequenceStartsAtTheFirstHeader) {
  const auto tokenizer = chat_tokenizer();
  ChatTemplateOptions options;
  options.add_bos = false;
  const auto example = ChatTemplate(options).encode({{ChatRole::user, "a"}, {ChatRole::assistant, "b"}}, tokenizer);
  EXPECT_EQ(example.input_ids, (Ids{kUser, kNewline, 101, kNewline, kAssistant, kNewline, 102, 2}));
}

// user "abcdef", reply "xy": 15 tokens = bos, <|user|> \n, 6 letters, \n <|assistant|> \n, x y, eos.
std::vector<ChatMessage> long_prompt() { return {{ChatRole::user, "abcdef"}, {ChatRole::assistant, "xy"}}; }

TEST(ChatTemplate, ShortenPromptCutsTheEndOfThePromptAndKeepsTheReply) {
  const auto tokenizer = chat_tokenizer();
  ChatTemplateOptions options;
  options.max_length = 12;
  const auto example = ChatTemplate(options).encode(long_prompt(), tokenizer);
  // "def" goes; headers, reply and eos stay.
  EXPECT_EQ(example.input_ids, (Ids{1, kUser, kNewline, 101, 102, 103, kNewline, kAssistant, kNewline, 124, 125, 2}));
  EXPECT_EQ(example.labels, (Ids{X, X, X, X, X, X, X, X, X, 124, 125, 2}));
}

TEST(ChatTemplate, ShortenPromptCutsTheEndWhenTheReplyAloneDoesNotFit) {
  const auto tokenizer = chat_tokenizer();
  ChatTemplateOptions options;
  options.max_length = 8;
  const auto example = ChatTemplate(options).encode(long_prompt(), tokenizer);
  // All 6 prompt letters go, then the eos: 9 tokens of structure and reply, one too many.
  EXPECT_EQ(example.input_ids, (Ids{1, kUser, kNewline, kNewline, kAssistant, kNewline, 124, 125}));
  EXPECT_EQ(example.labels, (Ids{X, X, X, X, X, X, 124, 125}));
}

TEST(ChatTemplate, CutEndKeepsTheFirstTokens) {
  const auto tokenizer = chat_tokenizer();
  ChatTemplateOptions options;
  options.max_length = 13;
  options.truncation = TruncationPolicy::cut_end;
  const auto example = ChatTemplate(options).encode(long_prompt(), tokenizer);
  EXPECT_EQ(example.input_ids,
            (Ids{1, kUser, kNewline, 101, 102, 103, 104, 105, 106, kNewline, kAssistant, kNewline, 124}));
  EXPECT_EQ(example.labels, (Ids{X, X, X, X, X, X, X, X, X, X, X, X, 124}));
}

TEST(ChatTemplate, PromptLongerThanMaxLengthIsShortenedFromItsEnd) {
  const auto tokenizer = chat_tokenizer();
  ChatTemplateOptions options;
  options.max_length = 8;
  EXPECT_EQ(ChatTemplate(options).encode_prompt({{ChatRole::user, "abcdef"}}, tokenizer),
            (Ids{1, kUser, kNewline, 101, 102, kNewline, kAssistant, kNewline}));
  options.max_length = 5;
  EXPECT_THROW(ChatTemplate(options).encode_prompt({{ChatRole::user, "abcdef"}}, tokenizer), Error);
}

TEST(ChatTemplate, ConversationMustEndWithAReply) {
  const ChatTemplate chat;
  EXPECT_THROW(chat.render({{ChatRole::user, "Hi"}}), Error);
  EXPECT_THROW(chat.render({}), Error);
  EXPECT_THROW(chat.render({{ChatRole::user, "  "}, {ChatRole::assistant, "A"}}), Error);
  EXPECT_THROW(chat.render_prompt({{ChatRole::user, "Hi"}, {ChatRole::assistant, "A"}}), Error);
}

// A tokenizer without eos cannot close replies.
class NoEosTokenizer final : public Tokenizer {
 public:
  std::vector<std::int64_t> encode(const std::string& text) const override { return inner_.encode(text); }
  std::string decode(const std::vector<std::int64_t>& ids) const override { return inner_.decode(ids); }
  std::int64_t vocab_size() const override { return inner_.vocab_size(); }
  std::optional<std::int64_t> piece_id(const std::string& piece) const override { return inner_.piece_id(piece); }
  std::optional<std::int64_t> bos_id() const override { return 1; }
  std::optional<std::int64_t> eos_id() const override { return std::nullopt; }
  std::optional<std::int64_t> pad_id() const override { return std::nullopt; }

 private:
  ByteTokenizer inner_;
};

TEST(ChatTemplate, TokenizerWithoutEosIsAnError) {
  EXPECT_THROW(ChatTemplate().encode({{ChatRole::user, "a"}, {ChatRole::assistant, "b"}}, NoEosTokenizer()), Error);
}

TEST(TokenizeInstructions, KeepsTaskAndSourceIndexAndDropsExamplesWithoutTargets) {
  const auto tokenizer = chat_tokenizer();
  ChatTemplateOptions options;
  options.max_length = 12;
  options.truncation = TruncationPolicy::cut_end;
  std::vector<InstructionRecord> records(3);
  records[0].messages = {{ChatRole::user, "a"}, {ChatRole::assistant, "b"}};  // 9 tokens
  records[0].task = "first";
  records[1].messages = long_prompt();  // its first 12 tokens end at the assistant header: nothing to train
  records[2].messages = {{ChatRole::user, "c"}, {ChatRole::assistant, "d"}};
  records[2].task = "third";
  const auto dataset = tokenize_instructions(records, ChatTemplate(options), tokenizer);
  ASSERT_EQ(dataset->size(), 2u);
  EXPECT_EQ(dataset->examples()[0].task, "first");
  EXPECT_EQ(dataset->examples()[0].source_index, 0u);
  EXPECT_EQ(dataset->examples()[1].task, "third");
  EXPECT_EQ(dataset->examples()[1].source_index, 2u);
  EXPECT_EQ(dataset->examples()[1].labels, (Ids{X, X, X, X, X, X, X, 104, 2}));
}

}  // namespace
}  // namespace ladle::text
