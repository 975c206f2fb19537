// The tokens of a model's tokenizer, by id: what `ladle merge check` compares between the models of a merge, from
// the tokenizer files alone, before any tensor is read (mergekit's tokenizer/build.py compares the same
// get_vocab() maps to build its permutations).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lib/text/hf/added_vocabulary.h"
#include "lib/text/open_tokenizer.h"

namespace ladle::merge {

// Token by id ("" for an id no token has).
using TokenVocabulary = std::vector<std::string>;

// What the vocabulary machinery (output_vocabulary.h) needs of a model's tokenizer.
struct TokenizerContents {
  text::TokenizerLocation location;      // which files, and their format
  TokenVocabulary tokens;                // by id
  std::vector<text::hf::AddedToken> added;  // tokenizer.json's added tokens (none for a sentencepiece model)
};

// The tokenizer of a model folder; nullopt when the folder has none. Throws ladle::Error naming the file when it
// cannot be read.
std::optional<TokenizerContents> read_tokenizer_contents(const std::filesystem::path& folder);

// The vocabulary of the tokenizer in a model folder (tokenizer.json, vocab.json + merges.txt, or tokenizer.model,
// lib/text/open_tokenizer.h), or nullopt when the folder has none or it cannot be read (the merge copies the
// tokenizer files as they are and does not need to read them).
std::optional<TokenVocabulary> read_token_vocabulary(const std::filesystem::path& folder);

// How a model's vocabulary differs from the output's (the tokenizer the merged model gets), id by id: merging
// embedding and LM-head matrices row by row is right only where both give an id the same token.
struct VocabularyDifference {
  struct Token {
    std::int64_t id = 0;
    std::string token;
  };
  struct Mismatch {
    std::int64_t id = 0;
    std::string output_token;  // the output's token at that id
    std::string model_token;   // the model's
  };
  std::vector<Mismatch> mismatched;  // ids below both sizes where the tokens differ
  std::vector<Token> model_tail;     // the model's tokens at ids the output's vocabulary does not reach
  std::vector<Token> output_tail;    // the output's tokens at ids the model's vocabulary does not reach

  bool empty() const { return mismatched.empty() && model_tail.empty() && output_tail.empty(); }
};

VocabularyDifference compare_vocabularies(const TokenVocabulary& output, const TokenVocabulary& model);

}  // namespace ladle::merge
