// Embedder: one vector per instruction record from a causal LM's hidden states (the base model by default), so
// that the records can be clustered by what they say.
//
//   auto model = model::load_causal_lm("base");
//   auto tokenizer = std::make_shared<text::SentencePieceTokenizer>("base/tokenizer.model");
//   Embedder embedder(model, tokenizer, EmbedderOptions{});
//   FloatMatrix embeddings = embedder.embed(records);   // [N, hidden], unit rows, in record order
//
// The DTM authors (Fu et al., 2024) embed each instance's response with a sentence encoder, L2-normalise and
// cluster with faiss k-means; ladle uses the pooled hidden states of the model being fine-tuned instead, so no
// second model is needed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clustering/float_matrix.h"
#include "lib/text/instruction_record.h"
#include "lib/text/tokenizer.h"

namespace ladle::model {
class CausalLm;
}

namespace ladle::clustering {

// Which part of a record is embedded.
enum class EmbedText {
  instruction,  // the system and user messages' contents, joined by blank lines
  response,     // the assistant messages' contents, joined by blank lines (what the DTM authors embed)
  both,         // every message's content in conversation order, joined by blank lines
};

// How the hidden states of a sequence's tokens become one vector.
enum class Pooling {
  mean,        // the mean over the text's tokens (the bos position is left out; padding never counts)
  last_token,  // the state at the last token, which under causal attention has seen the whole text
};

// "instruction", "response", "both" / "mean", "last"; parse_* return nullopt for any other name.
const char* embed_text_name(EmbedText text);
std::optional<EmbedText> parse_embed_text(std::string_view name);
const char* pooling_name(Pooling pooling);
std::optional<Pooling> parse_pooling(std::string_view name);

struct EmbedderOptions {
  EmbedText text = EmbedText::response;  // which part of each record is embedded
  Pooling pooling = Pooling::mean;       // how token states become one vector
  // Which hidden state: 0 = the embedding output, i = the output of layer i, negative counts from the end
  // (-1 = the last layer's output after the final norm, transformers' hidden_states[-1]).
  std::int64_t layer = -1;
  std::int64_t batch_size = 32;  // sequences per forward pass (batches are formed from length-sorted sequences)
  // Tokens per sequence, bos included, and at most the model's max_position_embeddings (options() reports the
  // limit in effect); a longer text keeps its beginning.
  std::int64_t max_length = 256;
  // Begin every sequence with the tokenizer's bos id, as the model saw text in pretraining. Its hidden state is
  // never pooled: under causal attention it is the same for every text and would only pull embeddings together.
  // A tokenizer without a bos (Qwen's) embeds without one, as its model saw text (options() then reports false).
  bool add_bos = true;
};

// The text of a record that EmbedText selects.
std::string embedding_text(const text::InstructionRecord& record, EmbedText which);

class Embedder {
 public:
  // The model must be in eval mode (dropout would make embeddings random). Throws ladle::Error for invalid
  // options, a layer the model does not have, a model in training mode, a tokenizer whose ids do not fit the
  // model's vocabulary.
  Embedder(std::shared_ptr<model::CausalLm> model, std::shared_ptr<const text::Tokenizer> tokenizer,
           EmbedderOptions options = {});

  const EmbedderOptions& options() const { return options_; }

  // [N, hidden] unit-length (L2-normalised) embeddings, row i for records[i]. Forward passes run without
  // gradients, on the model's device, in batches of similar length; a progress line shows records/s and tokens/s.
  FloatMatrix embed(const std::vector<text::InstructionRecord>& records) const;

  // The token ids embed() feeds the model for a record: bos (with add_bos), then the text's tokens, cut to
  // max_length.
  std::vector<std::int64_t> tokens(const text::InstructionRecord& record) const;

  // Embeddings of token sequences as tokens() makes them (with add_bos, the first token of each is the bos and is
  // not pooled). Throws ladle::Error for a sequence with no token to pool or longer than max_length.
  FloatMatrix embed_tokens(const std::vector<std::vector<std::int64_t>>& sequences) const;

 private:
  std::shared_ptr<model::CausalLm> model_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
  EmbedderOptions options_;
  std::size_t hidden_state_index_ = 0;  // the layer option resolved to an index into CausalLmOutput::hidden_states
};

}  // namespace ladle::clustering
