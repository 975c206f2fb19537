// HfTokenizer against Hugging Face's own implementation: the ids of @huggingface/tokenizers (run with node by
// tests/tools/hf_tokenizer_reference.mjs) on the real tokenizer folders of Llama 3.1, Qwen3, Gemma 3, DeepSeek V3
// and GPT-2 (also against tiktoken's GPT-2 encoding, OpenAI's own), over more than 1 MB of text per tokenizer:
// ladle's corpus and instruction data, translated man pages (German, French, Japanese, Russian, Chinese,
// Korean, ...) and edge cases. decode(encode(x)) must give x back.
//
// Needs LADLE_HF_DATA_DIR (the --out folder of scripts/fetch-hf-tokenizers.sh) and LADLE_DATA_DIR (a
// scripts/prepare-data.sh --tiny build); the ctest entry hf_tokenizer_reference sets both and runs this suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lib/io/text_file.h"
#include "lib/text/hf/json_field.h"
#include "lib/text/hf/normalizer.h"
#include "lib/text/utf8.h"
#include "lib/text/hf_tokenizer.h"
#include "lib/text/open_tokenizer.h"
#include "tests/support/command_runner.h"

namespace ladle::text {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Plain paragraphs of a corpus in scripts/data's layout, one document (lines joined by "\n") per text.
void add_corpus_documents(const fs::path& corpus, std::vector<std::string>& texts) {
  std::istringstream lines(io::read_text_file(corpus, io::kNoSizeLimit));
  std::string line, document;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      if (!document.empty()) texts.push_back(document);
      document.clear();
    } else {
      document += (document.empty() ? "" : "\n") + line;
    }
  }
  if (!document.empty()) texts.push_back(document);
}

void add_strings(const json& value, std::vector<std::string>& texts) {
  if (value.is_string()) {
    if (!value.get_ref<const std::string&>().empty()) texts.push_back(value.get<std::string>());
  } else if (value.is_structured()) {
    for (const auto& item : value) add_strings(item, texts);
  }
}

// Every string of every record of an instruction JSONL file.
void add_instruction_strings(const fs::path& jsonl, std::vector<std::string>& texts) {
  std::istringstream lines(io::read_text_file(jsonl, io::kNoSizeLimit));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) add_strings(json::parse(line), texts);
  }
}

// Translated man pages Debian installs (dpkg, man-db, passwd, ...), whole files, up to `budget` bytes per language.
void add_man_pages(std::vector<std::string>& texts, std::size_t budget) {
  for (const char* language : {"de", "fr", "ja", "ru", "zh_CN", "ko", "pl", "es", "it", "sv", "tr", "cs"}) {
    const fs::path folder = fs::path("/usr/share/man") / language / "man1";
    std::error_code error;
    if (!fs::is_directory(folder, error)) continue;
    std::vector<fs::path> pages;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().extension() == ".gz") pages.push_back(entry.path());
    }
    std::sort(pages.begin(), pages.end());
    std::size_t used = 0;
    for (const auto& page : pages) {
      if (used >= budget) break;
      const auto result = testing::run_command("gzip", {"-dc", page.string()});
      if (result.exit_code != 0 || text::find_invalid_utf8(result.out) != std::string::npos) continue;
      texts.push_back(result.out);
      used += result.out.size();
    }
  }
}

std::vector<std::string> edge_cases() {
  return {"",
          " ",
          "    ",
          "\t\t  \t",
          "\r\n",
          "line one\r\nline two\r\n\r\n",
          "\n\n\n\nend",
          "  leading and trailing  ",
          "tabs\tinside\twords\t",
          "emoji \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD family \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 flag \xF0\x9F\x87\xA9\xF0\x9F\x87\xAA",
          "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88\xE3\x80\x82 \xE4\xB8\xAD\xE6\x96\x87\xE6\x96\x87\xE6\x9C\xAC",
          "combining: e\xCC\x81 A\xCC\x8A n\xCC\x83 \xE1\x84\x80\xE1\x85\xA1 (decomposed) vs \xC3\xA9 \xC3\x85 \xC3\xB1",
          "<|begin_of_text|>hi<|eot_id|><|im_start|>user\n<|im_end|><bos><start_of_turn>model<end_of_turn>",
          "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>x <|endoftext|> <tool_call> <unused0> [multimodal]",
          "<|not_a_token|> <s> </s> <unk> <0x41>",
          "numbers 1234567 3.14159 1,000,000 -42 \xD9\xA1\xD9\xA2\xD9\xA3",
          "I'm you'll HE'S we'D they've it'd DON'T",
          "\xE2\x96\x81\xE2\x96\x81 metaspace lookalike",
          "mixed \xD0\xA0\xD1\x83\xD1\x81\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9 \xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC "
          "\xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9 \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82\xE0\xA4\xA6\xE0\xA5\x80",
          "zero\xE2\x80\x8Bwidth\xC2\xA0nbsp\xE3\x80\x80ideographic space",
          "code: for (int i = 0; i < n; ++i) { x += a[i] * 2; }  // done\n    return x;"};
}

class HfTokenizerReference : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* hf_data = std::getenv("LADLE_HF_DATA_DIR");
    const char* data = std::getenv("LADLE_DATA_DIR");
    if (!hf_data || !data) {
      GTEST_SKIP() << "set LADLE_HF_DATA_DIR and LADLE_DATA_DIR (the ctest entry hf_tokenizer_reference does)";
    }
    hf_data_ = hf_data;
    if (texts_.empty()) {
      add_corpus_documents(fs::path(data) / "corpus" / "train.txt", texts_);
      add_instruction_strings(fs::path(data) / "instructions" / "train.jsonl", texts_);
      add_man_pages(texts_, 48 * 1024);
      for (auto& text : edge_cases()) texts_.push_back(text);
    }
    work_ = testing::make_temp_dir("hf-reference");
  }
  void TearDown() override {
    if (!work_.empty()) fs::remove_all(work_);
  }

  // The reference's ids for every text.
  std::vector<std::vector<std::int64_t>> reference_ids(const fs::path& folder, const std::vector<std::string>& extra) {
    std::ofstream(work_ / "texts.json") << json(texts_).dump();
    std::vector<std::string> args = {(fs::path(LADLE_SOURCE_DIR) / "tests/tools/hf_tokenizer_reference.mjs").string(),
                                     (hf_data_ / "npm-tokenizers" / "node_modules").string(), folder.string(),
                                     (work_ / "texts.json").string(), (work_ / "ids.json").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto result = testing::run_command("node", args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    std::ifstream in(work_ / "ids.json");
    return json::parse(in).get<std::vector<std::vector<std::int64_t>>>();
  }

  // Compares ladle's ids with the reference's on every text; returns the bytes compared.
  std::size_t expect_same_ids(const Tokenizer& tokenizer, const std::vector<std::vector<std::int64_t>>& expected) {
    EXPECT_EQ(expected.size(), texts_.size());
    std::size_t bytes = 0, mismatches = 0;
    for (std::size_t i = 0; i < texts_.size() && i < expected.size(); ++i) {
      const auto ids = tokenizer.encode(texts_[i]);
      bytes += texts_[i].size();
      if (ids != expected[i] && ++mismatches <= 3) {
        ADD_FAILURE() << "text " << i << " (" << texts_[i].size() << " bytes) '" << texts_[i].substr(0, 200)
                      << "': ladle gives " << ids.size() << " ids, the reference " << expected[i].size();
      }
    }
    EXPECT_EQ(mismatches, 0u);
    return bytes;
  }

  // decode(encode(x)) == x, for texts without special tokens (decode skips them) or `lossy` (a string the
  // decoder does not give back); when the tokenizer normalizes, compared with the normalized text.
  void expect_lossless(const HfTokenizer& tokenizer, const hf::Normalizer* normalizer, const std::string& lossy) {
    std::size_t checked = 0, failures = 0;
    for (const auto& text : texts_) {
      if (!lossy.empty() && text.find(lossy) != std::string::npos) continue;
      const auto ids = tokenizer.encode(text);
      if (std::any_of(ids.begin(), ids.end(), [&](std::int64_t id) { return tokenizer.is_special(id); })) continue;
      const std::string expected = normalizer ? normalizer->normalize(text) : text;
      ++checked;
      if (tokenizer.decode(ids) != expected && ++failures <= 3) {
        ADD_FAILURE() << "decode(encode(x)) != x for '" << text.substr(0, 200) << "'";
      }
    }
    EXPECT_EQ(failures, 0u);
    EXPECT_GT(checked, texts_.size() * 9 / 10);
  }

  void check(const std::string& name, const hf::Normalizer* normalizer = nullptr, const std::string& lossy = "") {
    const fs::path folder = hf_data_ / "tokenizers" / name;
    const auto tokenizer = std::dynamic_pointer_cast<const HfTokenizer>(open_tokenizer(folder));
    ASSERT_TRUE(tokenizer) << name << " did not open as a Hugging Face tokenizer";
    const std::size_t bytes = expect_same_ids(*tokenizer, reference_ids(folder, {}));
    EXPECT_GE(bytes, std::size_t{1} << 20);
    std::cout << "[ " << name << " ] ids identical to @huggingface/tokenizers on " << texts_.size() << " texts, "
              << bytes << " bytes\n";
    expect_lossless(*tokenizer, normalizer, lossy);
  }

  static std::vector<std::string> texts_;
  fs::path hf_data_;
  fs::path work_;
};

std::vector<std::string> HfTokenizerReference::texts_;

TEST_F(HfTokenizerReference, Llama3_1) { check("llama3_1"); }

TEST_F(HfTokenizerReference, Qwen3) {
  const json nfc = {{"type", "NFC"}};
  check("qwen3", hf::parse_normalizer(hf::JsonField(nfc, "NFC")).get());
}

// Gemma's decoder turns "▁" into a space, so texts with it do not come back unchanged.
TEST_F(HfTokenizerReference, Gemma3) { check("gemma3", nullptr, "\xE2\x96\x81"); }

TEST_F(HfTokenizerReference, DeepSeekV3) { check("deepseek_v3"); }

TEST_F(HfTokenizerReference, Gpt2VocabAndMerges) {
  check("gpt2");
  const auto tokenizer = open_tokenizer(hf_data_ / "tokenizers" / "gpt2");
  const std::size_t bytes = expect_same_ids(*tokenizer, reference_ids(hf_data_ / "tokenizers" / "gpt2", {"--tiktoken-gpt2"}));
  std::cout << "[ gpt2 ] ids identical to tiktoken's gpt2 encoding on " << bytes << " bytes\n";
}

}  // namespace
}  // namespace ladle::text
