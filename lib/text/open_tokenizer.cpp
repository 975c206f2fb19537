#include "lib/text/open_tokenizer.h"

#include <algorithm>

#include "lib/text/hf_tokenizer.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

namespace fs = std::filesystem;

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

// The location of a format in `folder`, with the companions present there.
TokenizerLocation located(TokenizerFormat format, const fs::path& folder) {
  TokenizerLocation location{format, {}, {}};
  std::vector<const char*> names;
  switch (format) {
    case TokenizerFormat::tokenizer_json:
      names = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
      break;
    case TokenizerFormat::vocab_and_merges:
      names = {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"};
      break;
    case TokenizerFormat::sentencepiece:
      names = {"tokenizer.model"};
      break;
  }
  location.file = folder / names.front();
  for (const char* name : names) {
    if (is_file(folder / name)) location.files.push_back(folder / name);
  }
  return location;
}

}  // namespace

std::optional<TokenizerLocation> find_tokenizer(const fs::path& path) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    if (is_file(path / "tokenizer.json")) return located(TokenizerFormat::tokenizer_json, path);
    if (is_file(path / "vocab.json") && is_file(path / "merges.txt")) {
      return located(TokenizerFormat::vocab_and_merges, path);
    }
    if (is_file(path / "tokenizer.model")) return located(TokenizerFormat::sentencepiece, path);
    return std::nullopt;
  }
  if (!is_file(path)) return std::nullopt;
  const std::string name = path.filename().string();
  if (name == "vocab.json" || name == "merges.txt") return located(TokenizerFormat::vocab_and_merges, path.parent_path());
  if (path.extension() == ".json") {
    TokenizerLocation location = located(TokenizerFormat::tokenizer_json, path.parent_path());
    // Another *.json file stands for the folder's tokenizer.json; the companions are still the folder's.
    location.files.erase(std::remove(location.files.begin(), location.files.end(), location.file),
                         location.files.end());
    location.file = path;
    location.files.insert(location.files.begin(), path);
    return location;
  }
  return TokenizerLocation{TokenizerFormat::sentencepiece, path, {path}};
}

std::shared_ptr<const Tokenizer> open_tokenizer(const TokenizerLocation& location) {
  switch (location.format) {
    case TokenizerFormat::tokenizer_json:
      return HfTokenizer::from_tokenizer_json(location.file);
    case TokenizerFormat::vocab_and_merges:
      return HfTokenizer::from_vocab_and_merges(location.file.parent_path());
    case TokenizerFormat::sentencepiece:
      break;
  }
  return std::make_shared<SentencePieceTokenizer>(location.file);
}

std::shared_ptr<const Tokenizer> open_tokenizer(const fs::path& path) {
  std::error_code error;
  if (!fs::exists(path, error)) throw Error("'" + path.string() + "' does not exist (a model folder or tokenizer file)");
  const auto location = find_tokenizer(path);
  if (!location) {
    throw Error("'" + path.string() +
                "' holds no tokenizer (looked for tokenizer.json, vocab.json + merges.txt, tokenizer.model)");
  }
  return open_tokenizer(*location);
}

}  // namespace ladle::text
