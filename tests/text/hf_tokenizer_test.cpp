// HfTokenizer and its parts (lib/text/hf/) on small tokenizer.json files built here, with ids worked out by hand
// from the rules of Hugging Face's tokenizers (the real files are compared with the reference implementation in
// hf_tokenizer_reference_test.cpp).
#include "lib/text/hf_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "lib/text/hf/byte_level_alphabet.h"
#include "lib/text/hf/decoder.h"
#include "lib/text/hf/normalizer.h"
#include "lib/text/hf/pre_tokenizer.h"
#include "lib/text/utf8.h"
#include "lib/text/open_tokenizer.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::text {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Ids = std::vector<std::int64_t>;
using testing::contains;
using testing::error_message;

// A tokenizer.json with a BPE model whose vocabulary is `tokens` (ids in order) and the given merges.
json bpe_tokenizer_json(const std::vector<std::string>& tokens, const std::vector<std::string>& merges) {
  json vocab = json::object();
  for (std::size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

class HfTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override { folder_ = testing::make_temp_dir("hf-tokenizer"); }
  void TearDown() override { fs::remove_all(folder_); }

  static void write(const fs::path& path, const std::string& content) { std::ofstream(path, std::ios::binary) << content; }

  std::unique_ptr<HfTokenizer> load(const json& tokenizer, const json& config = nullptr) {
    write(folder_ / "tokenizer.json", tokenizer.dump());
    if (!config.is_null()) write(folder_ / "tokenizer_config.json", config.dump());
    return HfTokenizer::from_tokenizer_json(folder_ / "tokenizer.json");
  }

  fs::path folder_;
};

std::vector<std::string> pre_tokenize(const json& config, const std::string& text) {
  const auto pre_tokenizer = hf::parse_pre_tokenizer(hf::JsonField(config, "tokenizer.json"));
  std::vector<hf::Piece> pieces{{text, true}};
  pre_tokenizer->pre_tokenize(pieces);
  std::vector<std::string> out;
  for (const auto& piece : pieces) out.push_back(piece.text);
  return out;
}

std::string decode_tokens(const json& config, std::vector<std::string> tokens) {
  std::string text;
  for (const auto& part : hf::parse_decoder(hf::JsonField(config, "tokenizer.json"))->decode_chain(std::move(tokens))) {
    text += part;
  }
  return text;
}

TEST_F(HfTokenizerTest, BpeMergesTheLowestRankFirst) {
  // "b c" (rank 0) before "a b" (rank 1): abc -> a bc -> abc through "a bc" (rank 2); "a b" never applies.
  auto tokenizer = load(bpe_tokenizer_json({"a", "b", "c", "ab", "bc", "abc"}, {"b c", "a b", "a bc"}));
  EXPECT_EQ(tokenizer->encode("abc"), (Ids{5}));
  // Without "a bc" the word stays a + bc.
  auto partial = load(bpe_tokenizer_json({"a", "b", "c", "ab", "bc", "abc"}, {"b c", "a b"}));
  EXPECT_EQ(partial->encode("abc"), (Ids{0, 4}));
}

TEST_F(HfTokenizerTest, BpeMergesTheLeftmostPairOnATie) {
  auto tokenizer = load(bpe_tokenizer_json({"a", "aa"}, {"a a"}));
  EXPECT_EQ(tokenizer->encode("aaa"), (Ids{1, 0}));
  EXPECT_EQ(tokenizer->encode("aaaa"), (Ids{1, 1}));
}

TEST_F(HfTokenizerTest, MergesGivenAsPairsEqualMergesGivenAsStrings) {
  json pairs = bpe_tokenizer_json({"a", "b", "ab"}, {});
  pairs["model"]["merges"] = json::array({json::array({"a", "b"})});
  EXPECT_EQ(load(pairs)->encode("abab"), (Ids{2, 2}));
}

TEST_F(HfTokenizerTest, IgnoreMergesTakesAWordFoundWholeInTheVocabulary) {
  // The merges would make "ab" + "c"; the word "abc" is an entry of its own.
  json config = bpe_tokenizer_json({"a", "b", "c", "ab", "abc"}, {"a b"});
  EXPECT_EQ(load(config)->encode("abc"), (Ids{3, 2}));
  config["model"]["ignore_merges"] = true;
  EXPECT_EQ(load(config)->encode("abc"), (Ids{4}));
}

TEST_F(HfTokenizerTest, ByteFallbackSpellsUnknownCharactersAsTheirBytes) {
  json config = bpe_tokenizer_json({"<unk>", "a", "<0xC3>", "<0xA9>"}, {});
  config["model"]["byte_fallback"] = true;
  config["model"]["unk_token"] = "<unk>";
  // "é" is C3 A9 in UTF-8; "ß" (C3 9F) lacks <0x9F>, so it is unk.
  EXPECT_EQ(load(config)->encode("a\xC3\xA9"), (Ids{1, 2, 3}));
  EXPECT_EQ(load(config)->encode("\xC3\x9F"), (Ids{0}));
}

TEST_F(HfTokenizerTest, FuseUnkJoinsConsecutiveUnknownCharacters) {
  json config = bpe_tokenizer_json({"<unk>", "a"}, {});
  config["model"]["unk_token"] = "<unk>";
  EXPECT_EQ(load(config)->encode("xya z"), (Ids{0, 0, 1, 0, 0}));
  config["model"]["fuse_unk"] = true;
  EXPECT_EQ(load(config)->encode("xya z"), (Ids{0, 1, 0}));
}

TEST_F(HfTokenizerTest, SplitBehaviorsCutAsHuggingFaceDescribes) {
  // Matches of "-" in a-b--c: a [-] b [-] [-] c.
  const auto split = [](const std::string& behavior, bool invert = false) {
    return pre_tokenize({{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}},
                        "a-b--c");
  };
  using Words = std::vector<std::string>;
  EXPECT_EQ(split("Removed"), (Words{"a", "b", "c"}));
  EXPECT_EQ(split("Isolated"), (Words{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split("MergedWithPrevious"), (Words{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split("MergedWithNext"), (Words{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split("Contiguous"), (Words{"a", "-", "b", "--", "c"}));
  // Inverted, the letters are the matches: Removed keeps the dashes.
  EXPECT_EQ(split("Removed", true), (Words{"-", "-", "-"}));
}

TEST_F(HfTokenizerTest, SplitRegexUsesOnigurumaUnicodeClasses) {
  const json config = {{"type", "Split"},
                       {"pattern", {{"Regex", "\\p{N}{1,3}|\\p{L}+"}}},
                       {"behavior", "Isolated"},
                       {"invert", false}};
  using Words = std::vector<std::string>;
  EXPECT_EQ(pre_tokenize(config, "Größe 12345"), (Words{"Größe", " ", "123", "45"}));
}

TEST_F(HfTokenizerTest, ARegexThatOnigurumaGivesUpOnIsAnErrorNotAShortSplit) {
  // Exponential backtracking: Oniguruma stops after its retry limit. The search used to end there as if nothing
  // matched, silently leaving the rest of the text unsplit; Rust's onig crate panics. Now an error.
  const json config = {{"type", "Split"},
                       {"pattern", {{"Regex", "(a|a)*(a|a)*(a|a)*(a|a)*(a|a)*(a|a)*(a|a)*(a|a)*\\W"}}},
                       {"behavior", "Isolated"},
                       {"invert", false}};
  EXPECT_TRUE(contains(error_message([&] { pre_tokenize(config, std::string(60, 'a')); }),
                       "the regular expression gave up on a text"));
}

TEST_F(HfTokenizerTest, ByteLevelShowsEveryByteAsAPrintableCharacter) {
  const auto& alphabet = hf::ByteLevelAlphabet::instance();
  EXPECT_EQ(alphabet.character('a'), "a");
  EXPECT_EQ(alphabet.character(' '), "\xC4\xA0");     // U+0120 Ġ: space is the 33rd non-printable byte
  EXPECT_EQ(alphabet.character('\n'), "\xC4\x8A");    // U+010A Ċ
  EXPECT_EQ(alphabet.character(0xAD), "\xC5\x83");    // U+0143: the 68th and last substitute
  EXPECT_EQ(alphabet.character(0xFF), "\xC3\xBF");    // ÿ stands for itself
  // GPT-2's split keeps the space with the word after it.
  using Words = std::vector<std::string>;
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_EQ(pre_tokenize(byte_level, "I'm here"), (Words{"I", "'m", "\xC4\xA0here"}));
  const json with_space = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", false}};
  EXPECT_EQ(pre_tokenize(with_space, "hi"), (Words{"\xC4\xA0hi"}));
}

TEST_F(HfTokenizerTest, MetaspaceReplacesSpacesAndSplitsBeforeThem) {
  using Words = std::vector<std::string>;
  const std::string bar = "\xE2\x96\x81";  // ▁
  const json always = {{"type", "Metaspace"}, {"replacement", bar}, {"prepend_scheme", "always"}, {"split", true}};
  EXPECT_EQ(pre_tokenize(always, "Hey friend"), (Words{bar + "Hey", bar + "friend"}));
  const json never = {{"type", "Metaspace"}, {"replacement", bar}, {"prepend_scheme", "never"}, {"split", false}};
  EXPECT_EQ(pre_tokenize(never, "Hey friend"), (Words{"Hey" + bar + "friend"}));
}

TEST_F(HfTokenizerTest, NormalizersComposeInOrder) {
  const json config = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "NFC"}},
        {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "_"}},
        {{"type", "Prepend"}, {"prepend", ">"}}}}};
  const auto normalizer = hf::parse_normalizer(hf::JsonField(config, "tokenizer.json"));
  // e + U+0301 COMBINING ACUTE is é (U+00E9) in NFC.
  EXPECT_EQ(normalizer->normalize("caf" "e\xCC\x81 ok"), ">caf\xC3\xA9_ok");
  EXPECT_EQ(normalizer->normalize(""), "");  // Prepend leaves empty text alone
}

TEST_F(HfTokenizerTest, AddedTokensAreFoundBeforeTheModelAndLongestFirst) {
  json config = bpe_tokenizer_json({"<", "a", ">", "b"}, {});
  config["added_tokens"] = json::array(
      {{{"id", 4}, {"content", "<a>"}, {"special", true}, {"normalized", false}},
       {{"id", 5}, {"content", "<a>b"}, {"special", false}, {"normalized", false}}});
  auto tokenizer = load(config);
  EXPECT_EQ(tokenizer->encode("a<a>b<a>"), (Ids{1, 5, 4}));
  EXPECT_EQ(tokenizer->piece_id("<a>"), 4);
  // Decoding skips the special token and keeps the other.
  EXPECT_EQ(tokenizer->decode({1, 5, 4}), "a <a>b");  // no decoder: tokens joined by spaces
}

TEST_F(HfTokenizerTest, AddedTokenStripAndSingleWordRules) {
  json config = bpe_tokenizer_json({" ", "x", "y"}, {});
  config["added_tokens"] = json::array({{{"id", 3}, {"content", "T"}, {"lstrip", true}, {"rstrip", true},
                                         {"normalized", false}, {"special", true}},
                                        {{"id", 4}, {"content", "W"}, {"single_word", true}, {"normalized", false},
                                         {"special", true}}});
  auto tokenizer = load(config);
  // T takes the spaces around it; W inside a word is not the token (and has no id of its own: dropped).
  EXPECT_EQ(tokenizer->encode("x  T  y"), (Ids{1, 3, 2}));
  EXPECT_EQ(tokenizer->encode("x W y"), (Ids{1, 0, 4, 0, 2}));
  EXPECT_EQ(tokenizer->encode("xWy"), (Ids{1, 2}));
}

TEST_F(HfTokenizerTest, NormalizedAddedTokensMatchTheNormalizedText) {
  json config = bpe_tokenizer_json({"a", "_"}, {});
  config["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "_"}};
  config["added_tokens"] = json::array({{{"id", 2}, {"content", "a b"}, {"normalized", true}, {"special", false}}});
  // The token's content normalizes to "a_b", which is what the normalized text holds.
  EXPECT_EQ(load(config)->encode("a b a"), (Ids{2, 1, 0}));
}

TEST_F(HfTokenizerTest, TemplatePostProcessorAddsSpecialTokens) {
  json config = bpe_tokenizer_json({"a", "<s>", "</s>"}, {});
  config["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                  {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}},
                          {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}};
  auto tokenizer = load(config, {{"bos_token", "<s>"}, {"eos_token", {{"content", "</s>"}}}, {"pad_token", nullptr}});
  EXPECT_EQ(tokenizer->encode_with_special_tokens("aa"), (Ids{1, 0, 0, 2}));
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->pad_id(), std::nullopt);
  EXPECT_TRUE(tokenizer->add_bos_token());
}

TEST_F(HfTokenizerTest, PostProcessorIdWithoutATokenIsRefused) {
  // Found by the hf_tokenizer_json fuzzer: the template's special-token table gives an id the vocabulary lacks.
  json config = bpe_tokenizer_json({"a", "<s>"}, {});
  config["post_processor"] = {{"type", "TemplateProcessing"},
                              {"single", {{{"SpecialToken", {{"id", "<s>"}}}}, {{"Sequence", {{"id", "A"}}}}}},
                              {"special_tokens", {{"<s>", {{"ids", {10}}}}}}};
  const std::string message = error_message([&] { load(config); });
  EXPECT_TRUE(contains(message, "post_processor")) << message;
  EXPECT_TRUE(contains(message, "token id 10")) << message;
  config["post_processor"] = {{"type", "BertProcessing"}, {"cls", {"<s>", 1}}, {"sep", {"</s>", 2}}};
  EXPECT_TRUE(contains(error_message([&] { load(config); }), "token id 2"));
}

TEST_F(HfTokenizerTest, SpecialTokensMapOverridesTokenizerConfig) {
  write(folder_ / "special_tokens_map.json", R"({"eos_token": "b"})");
  auto tokenizer = load(bpe_tokenizer_json({"a", "b"}, {}), {{"eos_token", "a"}});
  EXPECT_EQ(tokenizer->eos_id(), 1);
}

TEST_F(HfTokenizerTest, DecodersInvertTheirEncodings) {
  // "ö" is the bytes C3 B6, shown as "Ã¶" (U+00C3 U+00B6) in the byte-level alphabet.
  EXPECT_EQ(decode_tokens({{"type", "ByteLevel"}}, {"Hello", "\xC4\xA0w\xC3\x83\xC2\xB6rld", "\xC4\x8A"}),
            "Hello w\xC3\xB6rld\n");
  const json gemma = {{"type", "Sequence"},
                      {"decoders",
                       {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                        {{"type", "ByteFallback"}},
                        {{"type", "Fuse"}}}}};
  // <0xC3><0xA9> is é; a lone <0xC3> is not UTF-8 and becomes U+FFFD.
  EXPECT_EQ(decode_tokens(gemma, {"\xE2\x96\x81" "caf", "<0xC3>", "<0xA9>"}), " caf\xC3\xA9");
  EXPECT_EQ(decode_tokens(gemma, {"x", "<0xC3>", "y"}), "x\xEF\xBF\xBDy");
  const json strip = {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}};
  EXPECT_EQ(decode_tokens(strip, {"  a", "b "}), " ab ");
  const json metaspace = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}};
  EXPECT_EQ(decode_tokens(metaspace, {"\xE2\x96\x81Hey", "\xE2\x96\x81you"}), "Hey you");
}

TEST_F(HfTokenizerTest, InvalidUtf8IsAnErrorNamingTheByte) {
  auto tokenizer = load(bpe_tokenizer_json({"a"}, {}));
  const std::string message = error_message([&] { tokenizer->encode("a\xFF" "a"); });
  EXPECT_TRUE(contains(message, "not valid UTF-8: byte 0xFF at offset 1")) << message;
  // An overlong form and a surrogate are ill-formed too.
  EXPECT_THROW(tokenizer->encode("\xC0\xAF"), Error);
  EXPECT_THROW(tokenizer->encode("\xED\xA0\x80"), Error);
  EXPECT_EQ(text::utf8_lossy("a\xF0\x9F\x98" "b"), "a\xEF\xBF\xBD" "b");  // one U+FFFD for the truncated emoji
}

TEST_F(HfTokenizerTest, UnsupportedConstructsAreErrorsNamingThem) {
  json config = bpe_tokenizer_json({"a"}, {});
  config["pre_tokenizer"] = {{"type", "Whitespace"}};
  std::string message = error_message([&] { load(config); });
  EXPECT_TRUE(contains(message, "tokenizer.json: pre_tokenizer: pre_tokenizer type 'Whitespace' is not supported"))
      << message;
  config = bpe_tokenizer_json({"a"}, {});
  config["model"]["dropout"] = 0.1;
  message = error_message([&] { load(config); });
  EXPECT_TRUE(contains(message, "model.dropout: BPE dropout is not supported")) << message;
  config = bpe_tokenizer_json({"a"}, {});
  config["model"]["type"] = "Unigram";
  EXPECT_TRUE(contains(error_message([&] { load(config); }), "model type 'Unigram' is not supported"));
  config = bpe_tokenizer_json({"a"}, {});
  config["truncation"] = {{"max_length", 8}};
  EXPECT_TRUE(contains(error_message([&] { load(config); }), "truncation: is not supported"));
}

TEST_F(HfTokenizerTest, MalformedFilesAreErrorsNamingTheField) {
  std::string message = error_message([&] { load(bpe_tokenizer_json({"a", "b"}, {"a c"})); });
  EXPECT_TRUE(contains(message, "model.merges[0]: merge 'a c' needs 'c', which is not in the vocabulary")) << message;
  message = error_message([&] { load(bpe_tokenizer_json({"a", "b"}, {"a b"})); });
  EXPECT_TRUE(contains(message, "needs 'ab'")) << message;
  json config = bpe_tokenizer_json({"a"}, {});
  config["model"]["vocab"]["b"] = -3;
  message = error_message([&] { load(config); });
  EXPECT_TRUE(contains(message, "model.vocab: 'b': expected a token id in [0, 2^31)")) << message;
  config = bpe_tokenizer_json({"a"}, {});
  config["model"]["vocab"]["b"] = 0;
  EXPECT_TRUE(contains(error_message([&] { load(config); }), "id 0 is given to two tokens"));
  config = bpe_tokenizer_json({"a"}, {});
  config["model"]["merges"] = json::array({"a"});
  EXPECT_TRUE(contains(error_message([&] { load(config); }), "model.merges[0]: expected \"left right\""));
  EXPECT_TRUE(contains(error_message([&] { load(bpe_tokenizer_json({"a"}, {}), {{"bos_token", "<s>"}}); }),
                       "tokenizer_config.json: bos_token: token '<s>' is not in the vocabulary"));
}

TEST_F(HfTokenizerTest, DecodeRejectsIdsWithoutAToken) {
  auto tokenizer = load(bpe_tokenizer_json({"a"}, {}));
  EXPECT_TRUE(contains(error_message([&] { tokenizer->decode({1}); }), "token id 1 is outside the vocabulary [0, 1)"));
  EXPECT_THROW(tokenizer->decode({-1}), Error);
}

// Ids may have holes and go up to 2^31 - 1 (Hugging Face's tokenizers keeps id -> token in a map). A table over the
// id range took 2.5 GB for an added token with id 77,777,777 (found by the hf_tokenizer_json fuzzer).
TEST_F(HfTokenizerTest, SparseIdsUpToTwoToTheThirtyOneCostNoTableOverTheirRange) {
  json config = bpe_tokenizer_json({"a", "b"}, {});
  config["model"]["vocab"]["c"] = 77777777;
  config["added_tokens"] = json::array({{{"id", 2147483647},
                                         {"content", "<x>"},
                                         {"single_word", false},
                                         {"lstrip", false},
                                         {"rstrip", false},
                                         {"normalized", false},
                                         {"special", true}}});
  const auto tokenizer = load(config);
  EXPECT_EQ(tokenizer->vocab_size(), 2147483648);
  EXPECT_EQ(tokenizer->encode_with_special_tokens("ac<x>b"), (Ids{0, 77777777, 2147483647, 1}));
  EXPECT_EQ(tokenizer->decode({0, 77777777, 1}), "a c b");  // no decoder: tokens joined by spaces, as Hugging Face
  EXPECT_EQ(tokenizer->token(77777777), "c");
  EXPECT_EQ(tokenizer->token(5), std::nullopt);
  EXPECT_TRUE(contains(error_message([&] { tokenizer->decode({5}); }), "token id 5 has no token in this tokenizer"));
  config["model"]["vocab"]["d"] = 77777777;
  EXPECT_TRUE(contains(error_message([&] { load(config); }), "id 77777777 is given to two tokens"));
}

TEST_F(HfTokenizerTest, EncodeIsThreadSafe) {
  json config = bpe_tokenizer_json({"a", "b", "ab", "abab"}, {"a b", "ab ab"});
  config["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Removed"}};
  auto tokenizer = load(config);
  std::string text;
  for (int i = 0; i < 2000; ++i) text += i % 3 ? "abab " : "aba ";
  const Ids expected = tokenizer->encode(text);
  std::vector<Ids> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) threads.emplace_back([&] { result = tokenizer->encode(text); });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
  EXPECT_EQ(expected.size(), 1333u * 1 + 667u * 2);  // 1333 x abab -> abab; 667 x aba -> ab + a
}

TEST_F(HfTokenizerTest, Gpt2VocabAndMergesLoadWithGpt2Defaults) {
  // Byte-level vocabulary: "Ġ" is the space; <|endoftext|> is GPT-2's bos, eos and unk.
  write(folder_ / "vocab.json", R"({"h": 0, "i": 1, "hi": 2, "\u0120": 3, "\u0120hi": 4, "<|endoftext|>": 5})");
  write(folder_ / "merges.txt", "#version: 0.2\nh i\n\u0120 hi\n");
  auto tokenizer = open_tokenizer(folder_);
  EXPECT_EQ(tokenizer->encode("hi hi<|endoftext|>"), (Ids{2, 4, 5}));
  EXPECT_EQ(tokenizer->eos_id(), 5);
  EXPECT_EQ(tokenizer->decode({2, 4, 5}), "hi hi");
  write(folder_ / "merges.txt", "#version: 0.2\nh i\nh  i\n");
  EXPECT_TRUE(contains(error_message([&] { open_tokenizer(folder_); }), "merges.txt:3: expected \"left right\""));
}

TEST_F(HfTokenizerTest, OpenTokenizerPrefersTokenizerJsonThenVocabAndMergesThenSentencepiece) {
  EXPECT_FALSE(find_tokenizer(folder_).has_value());
  write(folder_ / "tokenizer.model", "not read here");
  EXPECT_EQ(find_tokenizer(folder_)->format, TokenizerFormat::sentencepiece);
  write(folder_ / "vocab.json", "{}");
  write(folder_ / "merges.txt", "");
  EXPECT_EQ(find_tokenizer(folder_)->format, TokenizerFormat::vocab_and_merges);
  write(folder_ / "tokenizer.json", "{}");
  write(folder_ / "tokenizer_config.json", "{}");
  const auto location = find_tokenizer(folder_);
  EXPECT_EQ(location->format, TokenizerFormat::tokenizer_json);
  ASSERT_EQ(location->files.size(), 2u);
  EXPECT_EQ(location->files[0].string(), (folder_ / "tokenizer.json").string());
  EXPECT_EQ(location->files[1].string(), (folder_ / "tokenizer_config.json").string());
  EXPECT_EQ(find_tokenizer(folder_ / "merges.txt")->format, TokenizerFormat::vocab_and_merges);
  EXPECT_EQ(find_tokenizer(folder_ / "tokenizer.model")->format, TokenizerFormat::sentencepiece);
  EXPECT_TRUE(contains(error_message([&] { open_tokenizer(folder_ / "missing"); }), "does not exist"));
}

}  // namespace
}  // namespace ladle::text
