// The data pipeline with a real sentencepiece model, where tokens span several characters, the chat markers are
// user symbols, and encoding runs on several threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "lib/text/chat_template.h"
#include "lib/text/corpus_tokens.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "tests/support/command_runner.h"

namespace ladle::text {
namespace {

using Ids = std::vector<std::int64_t>;

// Real English from a file every Debian system has.
const char* kCorpus = "/usr/share/common-licenses/GPL-3";

class SentencePiecePipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(ladle::testing::make_temp_dir("spm-pipeline"));
    SentencePieceTrainOptions options;
    options.inputs = {kCorpus};
    options.output = *dir_ + "/tokenizer.model";
    options.vocab_size = 600;
    options.user_symbols = {"<|system|>", "<|user|>", "<|assistant|>"};
    train_sentencepiece(options);
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  static std::string* dir_;
};

std::string* SentencePiecePipelineTest::dir_ = nullptr;

TEST_F(SentencePiecePipelineTest, TrainedTokensDecodeToTheReplyFollowedByEos) {
  SentencePieceTokenizer tokenizer(*dir_ + "/tokenizer.model");
  const std::string reply = "You may convey verbatim copies of the Program's source code.";
  const auto example = ChatTemplate().encode(
      {{ChatRole::user, "What may I do with the source code?"}, {ChatRole::assistant, reply}}, tokenizer);
  ASSERT_EQ(example.input_ids.front(), *tokenizer.bos_id());
  ASSERT_EQ(example.input_ids.back(), *tokenizer.eos_id());
  // The trained positions are one run at the end: the reply's tokens, then eos.
  const auto first_trained = static_cast<std::size_t>(
      std::find_if(example.labels.begin(), example.labels.end(), [](auto label) { return label != kIgnoreLabel; }) -
      example.labels.begin());
  const Ids trained(example.labels.begin() + static_cast<std::ptrdiff_t>(first_trained), example.labels.end() - 1);
  EXPECT_EQ(tokenizer.decode(trained), reply);
  EXPECT_EQ(example.labels.back(), *tokenizer.eos_id());
  EXPECT_EQ(Ids(example.input_ids.begin() + static_cast<std::ptrdiff_t>(first_trained), example.input_ids.end()),
            Ids(example.labels.begin() + static_cast<std::ptrdiff_t>(first_trained), example.labels.end()));
  // Everything before is the prompt in the Tulu v2 layout, newlines included.
  ASSERT_GT(first_trained, 0u);
  const Ids prompt(example.input_ids.begin(), example.input_ids.begin() + static_cast<std::ptrdiff_t>(first_trained));
  EXPECT_EQ(tokenizer.decode(prompt), "<|user|>\nWhat may I do with the source code?\n<|assistant|>\n");
  EXPECT_NE(std::find(prompt.begin(), prompt.end(), *tokenizer.piece_id("<|assistant|>")), prompt.end());
}

TEST_F(SentencePiecePipelineTest, CorpusTokensDoNotDependOnTheThreadCount) {
  SentencePieceTokenizer tokenizer(*dir_ + "/tokenizer.model");
  const auto one = tokenize_corpus(kCorpus, tokenizer, 1);
  const auto two = tokenize_corpus(kCorpus, tokenizer, 2);
  EXPECT_GT(one.document_count, 10u);
  EXPECT_EQ(one.tokens, two.tokens);
  EXPECT_EQ(std::count(one.tokens.begin(), one.tokens.end(), *tokenizer.eos_id()),
            static_cast<std::ptrdiff_t>(one.document_count));
}

}  // namespace
}  // namespace ladle::text
