// The tokenizer runs in the same process as libtorch (the module keeps sentencepiece's protobuf apart).
#include "lib/text/sentencepiece_tokenizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::text {
namespace {

// Real English from a file every Debian system has.
const char* kCorpus = "/usr/share/common-licenses/GPL-3";

class SentencePieceTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(ladle::testing::make_temp_dir("spm"));
    SentencePieceTrainOptions options;
    options.inputs = {kCorpus};
    options.output = *dir_ + "/tokenizer.model";
    options.vocab_size = 600;
    options.user_symbols = {"<|user|>", "<|assistant|>"};
    train_sentencepiece(options);
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  static std::string model() { return *dir_ + "/tokenizer.model"; }
  static std::string* dir_;
};

std::string* SentencePieceTokenizerTest::dir_ = nullptr;

TEST_F(SentencePieceTokenizerTest, TrainingWritesTheModelAndNoPartialFiles) {
  EXPECT_TRUE(std::filesystem::is_regular_file(model()));
  for (const auto& entry : std::filesystem::directory_iterator(*dir_)) {
    EXPECT_EQ(entry.path().filename().string().find("partial"), std::string::npos) << entry.path();
  }
  SentencePieceTokenizer tokenizer(model());
  EXPECT_EQ(tokenizer.vocab_size(), 600);
}

TEST_F(SentencePieceTokenizerTest, DecodeInvertsEncode) {
  SentencePieceTokenizer tokenizer(model());
  for (const std::string text : {"The licenses for most software are designed to take away your freedom.",
                                 "Zebras quietly juxtapose 12345 xylophones!", "Ünïcödé falls back to bytes.",
                                 "<|user|>\nTwo  spaces\tand a tab\n<|assistant|>\nkept."}) {
    const auto ids = tokenizer.encode(text);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(tokenizer.decode(ids), text);
  }
}

TEST_F(SentencePieceTokenizerTest, SpecialTokensFollowLlamaLayout) {
  SentencePieceTokenizer tokenizer(model());
  EXPECT_EQ(tokenizer.unk_id(), 0);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  EXPECT_EQ(tokenizer.pad_id(), 3);
}

TEST_F(SentencePieceTokenizerTest, UserSymbolsAreSinglePieces) {
  SentencePieceTokenizer tokenizer(model());
  const auto user = tokenizer.piece_id("<|user|>");
  ASSERT_TRUE(user.has_value());
  const auto ids = tokenizer.encode("<|user|>hello");
  EXPECT_NE(std::find(ids.begin(), ids.end(), *user), ids.end());
  EXPECT_EQ(tokenizer.piece(*user), "<|user|>");
  EXPECT_FALSE(tokenizer.piece_id("<|no such marker|>").has_value());
}

TEST_F(SentencePieceTokenizerTest, OutOfRangeIdIsAnError) {
  SentencePieceTokenizer tokenizer(model());
  EXPECT_THROW(tokenizer.decode({5, 600}), ladle::Error);
  EXPECT_THROW(tokenizer.decode({-1}), ladle::Error);
}

TEST_F(SentencePieceTokenizerTest, TorchAndSentencepieceWorkInOneProcess) {
  at::Tensor before = at::ones({4, 4}).matmul(at::ones({4, 4}));
  SentencePieceTokenizer tokenizer(model());
  const auto ids = tokenizer.encode("freedom to share and change");
  at::Tensor tensor = at::tensor(ids);
  EXPECT_EQ(tensor.numel(), static_cast<std::int64_t>(ids.size()));
  EXPECT_EQ(before.sum().item<float>(), 64.0f);
}

TEST_F(SentencePieceTokenizerTest, CorruptModelIsAClearError) {
  const auto path = *dir_ + "/corrupt.model";
  std::ofstream(path) << "this is not a sentencepiece model";
  try {
    SentencePieceTokenizer tokenizer(path);
    FAIL() << "expected an error";
  } catch (const ladle::Error& error) {
    EXPECT_NE(std::string(error.what()).find("corrupt.model"), std::string::npos) << error.what();
  }
}

TEST_F(SentencePieceTokenizerTest, MissingModelNamesThePath) {
  try {
    SentencePieceTokenizer tokenizer(*dir_ + "/absent.model");
    FAIL() << "expected an error";
  } catch (const ladle::Error& error) {
    EXPECT_NE(std::string(error.what()).find("absent.model"), std::string::npos);
  }
}

TEST_F(SentencePieceTokenizerTest, CliEncodesAndDecodes) {
  auto encoded = ladle::testing::run_ladle({"tokenizer", "encode", "--model", model(), "free software"});
  ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
  std::vector<std::string> args = {"tokenizer", "decode", "--model", model()};
  std::istringstream ids(encoded.out);
  for (std::string id; ids >> id;) args.push_back(id);
  auto decoded = ladle::testing::run_ladle(args);
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_EQ(decoded.out, "free software\n");
}

}  // namespace
}  // namespace ladle::text
