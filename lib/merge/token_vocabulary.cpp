#include "lib/merge/token_vocabulary.h"

#include <algorithm>
#include <memory>

#include "lib/text/hf_tokenizer.h"
#include "lib/text/open_tokenizer.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "lib/util/error.h"

namespace ladle::merge {

std::optional<TokenVocabulary> read_token_vocabulary(const std::filesystem::path& folder) {
  const auto location = text::find_tokenizer(folder);
  if (!location) return std::nullopt;
  std::shared_ptr<const text::Tokenizer> tokenizer;
  try {
    tokenizer = text::open_tokenizer(*location);
  } catch (const Error&) {
    return std::nullopt;
  }
  TokenVocabulary vocabulary(static_cast<std::size_t>(tokenizer->vocab_size()));
  if (const auto* hf = dynamic_cast<const text::HfTokenizer*>(tokenizer.get())) {
    for (std::size_t id = 0; id < vocabulary.size(); ++id) {
      vocabulary[id] = hf->token(static_cast<std::int64_t>(id)).value_or("");
    }
  } else if (const auto* sentencepiece = dynamic_cast<const text::SentencePieceTokenizer*>(tokenizer.get())) {
    for (std::size_t id = 0; id < vocabulary.size(); ++id) {
      vocabulary[id] = sentencepiece->piece(static_cast<std::int64_t>(id));
    }
  } else {
    return std::nullopt;
  }
  return vocabulary;
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
