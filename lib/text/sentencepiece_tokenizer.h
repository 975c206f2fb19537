// SentencePieceTokenizer: a sentencepiece model (a Llama-style tokenizer.model) for encoding and decoding text,
// and train_sentencepiece to make one from a corpus. Both run in the same process as libtorch: sentencepiece is
// reached through ladle's sentencepiece module (see sentencepiece_abi.h for why).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/text/tokenizer.h"

struct LadleSpmProcessor;
struct LadleSpmApi;

namespace ladle::text {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Loads a serialized sentencepiece model; throws ladle::Error naming the file when it cannot.
  explicit SentencePieceTokenizer(const std::filesystem::path& model_path);
  ~SentencePieceTokenizer();
  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

  // Token ids of UTF-8 text, without bos/eos (the caller adds them where its format wants them).
  std::vector<std::int64_t> encode(const std::string& text) const override;
  // Text of token ids; throws ladle::Error for an id outside [0, vocab_size()).
  std::string decode(const std::vector<std::int64_t>& ids) const override;

  std::int64_t vocab_size() const override;
  // The id of a piece (e.g. a chat marker "<|user|>"), or nullopt when the vocabulary lacks it.
  std::optional<std::int64_t> piece_id(const std::string& piece) const override;
  std::string piece(std::int64_t id) const;

  // Special token ids, or nullopt when the model defines none.
  std::optional<std::int64_t> unk_id() const;
  std::optional<std::int64_t> bos_id() const override;
  std::optional<std::int64_t> eos_id() const override;
  std::optional<std::int64_t> pad_id() const override;

  const std::filesystem::path& model_path() const { return model_path_; }

 private:
  std::optional<std::int64_t> special(int which) const;
  void require_valid_id(std::int64_t id) const;

  std::filesystem::path model_path_;
  const LadleSpmApi* api_;
  LadleSpmProcessor* processor_ = nullptr;
};

struct SentencePieceTrainOptions {
  std::vector<std::filesystem::path> inputs;   // plain-text files, one sentence or paragraph per line
  std::filesystem::path output;                // the model file to write (e.g. tokenizer.model)
  std::int64_t vocab_size = 8000;              // pieces in the vocabulary, special tokens included
  std::string model_type = "unigram";          // "unigram" or "bpe" (Llama's tokenizer is BPE)
  double character_coverage = 1.0;             // fraction of characters covered; the rest fall back to bytes
  bool byte_fallback = true;                   // unknown characters become byte pieces, as in Llama
  // Text normalisation before segmentation. "identity" with whitespace kept (Llama's settings) preserves
  // newlines, which the chat template relies on; sentencepiece's default "nmt_nfkc" folds them into spaces.
  std::string normalization_rule = "identity";
  bool remove_extra_whitespaces = false;       // collapse runs of spaces (sentencepiece's default: true)
  // Prefix every encoded text with a space (sentencepiece's and Llama's default). Off, the chat template's
  // segment-by-segment encoding decodes to exactly the concatenated text.
  bool add_dummy_prefix = false;
  std::vector<std::string> user_symbols;       // pieces never split, e.g. chat markers "<|user|>"
  std::int64_t input_sentence_size = 2000000;  // sentences sampled for training (0 = all)
  std::uint32_t seed = 42;                     // sampling seed, for reproducible vocabularies
  std::int64_t threads = 0;                    // trainer threads (0 = all cores)
};

// Trains a sentencepiece model with Llama's special-token layout (unk 0, bos 1, eos 2, pad 3) and writes it
// to options.output atomically. Throws ladle::Error with sentencepiece's message on failure.
void train_sentencepiece(const SentencePieceTrainOptions& options);

}  // namespace ladle::text
