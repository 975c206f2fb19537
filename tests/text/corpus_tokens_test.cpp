// Pretraining text: documents packed with eos, the token cache file, and fixed-length blocks. Token ids are
// worked out by hand with the byte tokenizer (byte b -> 4 + b, eos 2).
#include "lib/text/corpus_tokens.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "lib/text/byte_tokenizer.h"
#include "lib/text/token_block_dataset.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::text {
namespace {

using Tokens = std::vector<std::int32_t>;

class CorpusTokensTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("corpus"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& contents) {
    const auto path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  std::string message_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const Error& error) {
      return error.what();
    }
    return "no error";
  }

  std::string dir_;
  ByteTokenizer tokenizer_;
};

TEST_F(CorpusTokensTest, DocumentsAreJoinedLinesEachEndedByEos) {
  const auto corpus = write("corpus.txt", "ab\ncd\n\nef\n");
  //                                     a    b    \n  c    d    eos  e    f    eos
  EXPECT_EQ(tokenize_corpus(corpus, tokenizer_).tokens, (Tokens{101, 102, 14, 103, 104, 2, 105, 106, 2}));
  EXPECT_EQ(tokenize_corpus(corpus, tokenizer_).document_count, 2u);
}

TEST_F(CorpusTokensTest, RunsOfBlankLinesAndCarriageReturnsSeparateDocumentsLikeOneEmptyLine) {
  const auto corpus = write("corpus.txt", "\n \t\nab\r\ncd\r\n \r\n\r\nef");
  EXPECT_EQ(tokenize_corpus(corpus, tokenizer_).tokens, (Tokens{101, 102, 14, 103, 104, 2, 105, 106, 2}));
}

TEST_F(CorpusTokensTest, ThreadCountDoesNotChangeTheTokens) {
  std::string text;
  for (int document = 0; document < 40; ++document) text += "document " + std::to_string(document) + "\nline\n\n";
  const auto corpus = write("corpus.txt", text);
  EXPECT_EQ(tokenize_corpus(corpus, tokenizer_, 1).tokens, tokenize_corpus(corpus, tokenizer_, 3).tokens);
}

TEST_F(CorpusTokensTest, CorpusWithoutTextIsAnError) {
  EXPECT_THROW(tokenize_corpus(write("blank.txt", "\n  \n"), tokenizer_), Error);
  EXPECT_THROW(tokenize_corpus(dir_ + "/missing.txt", tokenizer_), Error);
}

TEST_F(CorpusTokensTest, FileHashIsFnv1a64) {
  // Published FNV-1a 64-bit test vectors.
  EXPECT_EQ(file_content_hash(write("empty", "")), 0xcbf29ce484222325ull);
  EXPECT_EQ(file_content_hash(write("a", "a")), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(file_content_hash(write("foobar", "foobar")), 0x85944171f73967e8ull);
}

TEST_F(CorpusTokensTest, CacheRoundTrips) {
  TokenCache cache;
  cache.key = {0x1234, 0x5678};
  cache.document_count = 2;
  cache.tokens = {7, 0, 2147483647, 2};
  const auto path = dir_ + "/sub/corpus.tokens";
  write_token_cache(path, cache);
  EXPECT_EQ(std::filesystem::file_size(path), 48u + 4 * 4);
  const auto loaded = read_token_cache(path, {0x1234, 0x5678});
  EXPECT_EQ(loaded.tokens, cache.tokens);
  EXPECT_EQ(loaded.document_count, 2u);
  EXPECT_EQ(loaded.key.tokenizer_hash, 0x1234u);
  EXPECT_EQ(loaded.key.corpus_hash, 0x5678u);
}

TEST_F(CorpusTokensTest, CacheIsRejectedWhenTheTokenizerHashDiffers) {
  TokenCache cache;
  cache.key = {0x1234, 0x5678};
  cache.tokens = {1, 2};
  const auto path = dir_ + "/corpus.tokens";
  write_token_cache(path, cache);
  const auto message = message_of([&] { read_token_cache(path, {0x9999, 0x5678}); });
  EXPECT_NE(message.find(path + ": token cache field 'tokenizer hash' is 0x1234, expected 0x9999"), std::string::npos)
      << message;
  EXPECT_NE(message_of([&] { read_token_cache(path, {0x1234, 0x1}); }).find("'corpus hash'"), std::string::npos);
}

TEST_F(CorpusTokensTest, DamagedCacheIsRejected) {
  TokenCache cache;
  cache.tokens = {1, 2, 3};
  const auto path = dir_ + "/corpus.tokens";
  write_token_cache(path, cache);
  std::filesystem::resize_file(path, 48 + 8);  // one token short
  EXPECT_NE(message_of([&] { read_token_cache(path, {}); }).find("'token count' is 3"), std::string::npos);
  EXPECT_NE(message_of([&] {
              read_token_cache(write("other", "not a token cache, though long enough for its header"), {});
            }).find("bad magic"),
            std::string::npos);
  EXPECT_NE(message_of([&] { read_token_cache(write("short", "LADLETOK"), {}); }).find("header"), std::string::npos);
}

TEST_F(CorpusTokensTest, LoadOrTokenizeWritesTheCacheThenReadsIt) {
  CorpusCacheOptions options;
  options.corpus = write("corpus.txt", "ab\n");
  options.tokenizer_file = write("tokenizer.model", "version 1");
  options.cache = dir_ + "/out/corpus.tokens";
  EXPECT_EQ(load_or_tokenize_corpus(options, tokenizer_).tokens, (Tokens{101, 102, 2}));
  ASSERT_TRUE(std::filesystem::exists(options.cache));
  const auto key = TokenCacheKey{file_content_hash(options.tokenizer_file), file_content_hash(options.corpus)};
  EXPECT_EQ(read_token_cache(options.cache, key).tokens, (Tokens{101, 102, 2}));

  // A cache whose tokens differ from a fresh tokenization shows that it is read, not remade.
  TokenCache planted;
  planted.key = key;
  planted.tokens = {42};
  write_token_cache(options.cache, planted);
  EXPECT_EQ(load_or_tokenize_corpus(options, tokenizer_).tokens, (Tokens{42}));
}

TEST_F(CorpusTokensTest, LoadOrTokenizeRemakesTheCacheForAnotherTokenizer) {
  CorpusCacheOptions options;
  options.corpus = write("corpus.txt", "ab\n");
  options.tokenizer_file = write("tokenizer.model", "version 1");
  options.cache = dir_ + "/corpus.tokens";
  TokenCache planted;
  planted.key = {file_content_hash(options.tokenizer_file), file_content_hash(options.corpus)};
  planted.tokens = {42};
  write_token_cache(options.cache, planted);
  write("tokenizer.model", "version 2");
  EXPECT_EQ(load_or_tokenize_corpus(options, tokenizer_).tokens, (Tokens{101, 102, 2}));
}

TEST(TokenBlockDataset, BlocksHaveBlockSizePlusOneTokensAndShareTheirBoundary) {
  auto tokens = std::make_shared<const Tokens>(Tokens{10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  TokenBlockDataset blocks(tokens, 4);
  // (10 - 1) / 4 = 2 blocks: tokens 0-4 and 4-8; token 9 fills no block.
  ASSERT_EQ(blocks.size(), 2u);
  const auto first = blocks.example(0);
  const auto second = blocks.example(1);
  EXPECT_EQ(first.input_ids, (std::vector<std::int64_t>{10, 11, 12, 13, 14}));
  EXPECT_EQ(second.input_ids, (std::vector<std::int64_t>{14, 15, 16, 17, 18}));
  EXPECT_EQ(second.labels, second.input_ids);
  EXPECT_EQ(second.source_index, 1u);
  EXPECT_EQ(second.task, "corpus");
  EXPECT_THROW(blocks.example(2), Error);
}

TEST(TokenBlockDataset, TooFewTokensGiveNoBlock) {
  EXPECT_EQ(TokenBlockDataset(std::make_shared<const Tokens>(Tokens{1, 2, 3, 4}), 4).size(), 0u);
  EXPECT_EQ(TokenBlockDataset(std::make_shared<const Tokens>(Tokens{}), 4).size(), 0u);
  EXPECT_THROW(TokenBlockDataset(std::make_shared<const Tokens>(Tokens{1, 2}), 0), Error);
}

}  // namespace
}  // namespace ladle::text
