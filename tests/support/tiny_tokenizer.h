// Tiny real tokenizers for tests of vocabulary handling: a tokenizer.json whose BPE model has the given tokens (ids
// in order, no merges) and special added tokens after them, which lib/text's HfTokenizer reads like any other.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ladle::testing {

// The tokens "t0" ... "t<count-1>".
inline std::vector<std::string> numbered_tokens(int count) {
  std::vector<std::string> tokens;
  for (int i = 0; i < count; ++i) tokens.push_back("t" + std::to_string(i));
  return tokens;
}

// tokenizer.json: a BPE model over `tokens` (ids in order) and `added` special tokens at the ids after them.
inline std::string tiny_tokenizer_json(const std::vector<std::string>& tokens,
                                       const std::vector<std::string>& added = {}) {
  using json = nlohmann::json;
  json vocab = json::object();
  for (std::size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  json added_tokens = json::array();
  for (std::size_t i = 0; i < added.size(); ++i) {
    added_tokens.push_back({{"id", tokens.size() + i},
                            {"content", added[i]},
                            {"single_word", false},
                            {"lstrip", false},
                            {"rstrip", false},
                            {"normalized", false},
                            {"special", true}});
  }
  return json{{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", added_tokens},
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
                {"merges", json::array()}}}}
      .dump();
}

}  // namespace ladle::testing
