// open_tokenizer: the tokenizer of a model folder or of a tokenizer file, whichever kind it is, so every command
// that takes a tokenizer accepts the folders people download. In a folder the first present wins:
//   tokenizer.json (+ tokenizer_config.json)  ->  HfTokenizer
//   vocab.json + merges.txt (GPT-2)           ->  HfTokenizer
//   tokenizer.model (sentencepiece)           ->  SentencePieceTokenizer
// A file is taken by its name: vocab.json or merges.txt -> the GPT-2 pair beside it, any other *.json ->
// tokenizer.json, anything else -> a sentencepiece model.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "lib/text/tokenizer.h"

namespace ladle::text {

enum class TokenizerFormat {
  tokenizer_json,    // Hugging Face's tokenizer.json
  vocab_and_merges,  // GPT-2's vocab.json + merges.txt
  sentencepiece,     // a sentencepiece model (tokenizer.model)
};

struct TokenizerLocation {
  TokenizerFormat format = TokenizerFormat::tokenizer_json;  // what kind of tokenizer it is
  std::filesystem::path file;                 // the file that defines its ids (tokenizer.json, vocab.json, .model)
  std::vector<std::filesystem::path> files;   // every file it reads (present companions included), file first
};

// Where the tokenizer at `path` (a folder or a file) is, or nullopt when the path does not exist or the folder
// holds none of the files above.
std::optional<TokenizerLocation> find_tokenizer(const std::filesystem::path& path);

std::shared_ptr<const Tokenizer> open_tokenizer(const TokenizerLocation& location);
// Throws ladle::Error naming the path and the files looked for when there is no tokenizer there.
std::shared_ptr<const Tokenizer> open_tokenizer(const std::filesystem::path& path);

}  // namespace ladle::text
