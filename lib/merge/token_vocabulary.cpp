#include "lib/merge/token_vocabulary.h"

#include <algorithm>
#include <memory>

#include "lib/text/hf_tokenizer.h"
#include "lib/text/open_tokenizer.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "lib/util/error.h"

namespace ladle::merge {

std::optional<TokenizerContents> read_tokenizer_contents(const std::filesystem::path& folder) {
  const auto location = text::find_tokenizer(folder);
  if (!location) return std::nullopt;
  const std::shared_ptr<const text::Tokenizer> tokenizer = text::open_tokenizer(*location);
  TokenizerContents contents{*location, TokenVocabulary(static_cast<std::size_t>(tokenizer->vocab_size())), {}};
  if (const auto* hf = dynamic_cast<const text::HfTokenizer*>(tokenizer.get())) {
    for (std::size_t id = 0; id < contents.tokens.size(); ++id) {
      contents.tokens[id] = hf->token(static_cast<std::int64_t>(id)).value_or("");
    }
    contents.added = hf->added_tokens();
  } else if (const auto* sentencepiece = dynamic_cast<const text::SentencePieceTokenizer*>(tokenizer.get())) {
    for (std::size_t id = 0; id < contents.tokens.size(); ++id) {
      contents.tokens[id] = sentencepiece->piece(static_cast<std::int64_t>(id));
    }
  } else {
    throw Error(location->file.string() + ": not a tokenizer whose vocabulary ladle can list");
  }
  return contents;
}

std::optional<TokenVocabulary> read_token_vocabulary(const std::filesystem::path& folder) {
  try {
    auto contents = read_tokenizer_contents(folder);
    if (!contents) return std::nullopt;
    return std::move(contents->tokens);
  } catch (const Error&) {
    return std::nullopt;
  }
}

VocabularyDifference compare_vocabularies(const TokenVocabulary& output, const TokenVocabulary& model) {
  VocabularyDifference difference;
  const std::size_t common = std::min(output.size(), model.size());
  for (std::size_t id = 0; id < common; ++id) {
    if (output[id] != model[id]) difference.mismatched.push_back({static_cast<std::int64_t>(id), output[id], model[id]});
  }
  for (std::size_t id = common; id < model.size(); ++id) {
    difference.model_tail.push_back({static_cast<std::int64_t>(id), model[id]});
  }
  for (std::size_t id = common; id < output.size(); ++id) {
    difference.output_tail.push_back({static_cast<std::int64_t>(id), output[id]});
  }
  return difference;
}

}  // namespace ladle::merge
