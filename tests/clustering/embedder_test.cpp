// The embedder on a tiny random Llama with a byte tokenizer: padding never changes an embedding, rows are unit
// length and in input order, bos is not pooled, and the layer option picks the documented hidden state.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clustering/embedder.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/text/byte_tokenizer.h"
#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

using Sequences = std::vector<std::vector<std::int64_t>>;
constexpr std::int64_t kBos = text::ByteTokenizer::kBosId;

std::shared_ptr<model::CausalLm> tiny_model() {
  auto config = model::CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                                  {"vocab_size", 300},
                                                  {"hidden_size", 32},
                                                  {"intermediate_size", 48},
                                                  {"num_hidden_layers", 2},
                                                  {"num_attention_heads", 4},
                                                  {"num_key_value_heads", 2},
                                                  {"max_position_embeddings", 64}});
  // Larger weights than the 0.02 initialisation, so that hidden states differ visibly between tokens.
  config.initializer_range = 0.3;
  return model::create_causal_lm(config, 5);
}

const std::shared_ptr<model::CausalLm>& shared_model() {
  static const auto model = tiny_model();
  return model;
}

Embedder embedder(EmbedderOptions options = {}) {
  return Embedder(shared_model(), std::make_shared<text::ByteTokenizer>(), options);
}

text::InstructionRecord record(const std::string& instruction, const std::string& response) {
  text::InstructionRecord result;
  result.messages = {{text::ChatRole::user, instruction}, {text::ChatRole::assistant, response}};
  return result;
}

float max_difference(const float* a, const float* b, std::int64_t d) {
  float worst = 0.0f;
  for (std::int64_t j = 0; j < d; ++j) worst = std::max(worst, std::abs(a[j] - b[j]));
  return worst;
}

const Sequences kShortAndLong = {{kBos, 40, 41, 42}, {kBos, 50, 51, 52, 53, 54, 55, 56, 57, 58}};

TEST(Embedder, MeanPoolingIgnoresPadding) {
  const FloatMatrix alone = embedder().embed_tokens({kShortAndLong[0]});
  const FloatMatrix padded = embedder().embed_tokens(kShortAndLong);  // one batch: the short row is padded
  EXPECT_LT(max_difference(alone.row(0), padded.row(0), alone.cols), 1e-5f);
}

TEST(Embedder, LastTokenPoolingIgnoresPadding) {
  EmbedderOptions options;
  options.pooling = Pooling::last_token;
  const FloatMatrix alone = embedder(options).embed_tokens({kShortAndLong[0]});
  const FloatMatrix padded = embedder(options).embed_tokens(kShortAndLong);
  EXPECT_LT(max_difference(alone.row(0), padded.row(0), alone.cols), 1e-5f);
}

TEST(Embedder, EmbeddingsHaveUnitNorm) {
  const FloatMatrix embeddings = embedder().embed({record("What is 2+2?", "4"), record("Capital of Peru?", "Lima")});
  for (std::int64_t i = 0; i < embeddings.rows; ++i) {
    double norm = 0.0;
    for (std::int64_t j = 0; j < embeddings.cols; ++j) norm += embeddings.row(i)[j] * embeddings.row(i)[j];
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-6) << "row " << i;
  }
}

TEST(Embedder, RowsFollowTheInputOrderWhateverTheBatching) {
  const std::vector<text::InstructionRecord> records = {record("q", "short"), record("q", "a much longer response"),
                                                        record("q", "mid length"), record("q", "x"),
                                                        record("q", "another long-ish response")};
  EmbedderOptions batched;
  batched.batch_size = 2;
  const FloatMatrix together = embedder(batched).embed(records);
  ASSERT_EQ(together.rows, 5);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const FloatMatrix alone = embedder().embed({records[i]});
    EXPECT_LT(max_difference(together.row(static_cast<std::int64_t>(i)), alone.row(0), alone.cols), 1e-5f) << i;
  }
}

TEST(Embedder, BosIsNotPooled) {
  // With one text token after bos, the mean over the pooled positions is that token's state: the last token's.
  EmbedderOptions last;
  last.pooling = Pooling::last_token;
  const Sequences one_token = {{kBos, 77}, {kBos, 120}};
  const FloatMatrix mean = embedder().embed_tokens(one_token);
  const FloatMatrix last_token = embedder(last).embed_tokens(one_token);
  EXPECT_LT(max_difference(mean.values.data(), last_token.values.data(), mean.rows * mean.cols), 1e-6f);
}

TEST(Embedder, LayerZeroIsTheNormalisedTokenEmbedding) {
  EmbedderOptions options;
  options.layer = 0;
  options.add_bos = false;
  const FloatMatrix embedding = embedder(options).embed_tokens({{123}});
  const at::Tensor row = shared_model()->hf_state_dict().at("model.embed_tokens.weight")[123];
  const at::Tensor expected = (row / row.norm()).contiguous();
  EXPECT_LT(max_difference(embedding.row(0), expected.data_ptr<float>(), embedding.cols), 1e-6f);
}

TEST(Embedder, TokensAreBosThenTheTextCutToMaxLength) {
  EmbedderOptions options;
  options.max_length = 4;
  const auto ids = embedder(options).tokens(record("ignored", "abcdef"));
  const std::int64_t a = text::ByteTokenizer::kFirstByteId + 'a';
  EXPECT_EQ(ids, (std::vector<std::int64_t>{kBos, a, a + 1, a + 2}));
}

// The byte tokenizer without a bos token, as Qwen's tokenizers are.
class TokenizerWithoutBos final : public text::Tokenizer {
 public:
  std::vector<std::int64_t> encode(const std::string& text) const override { return bytes_.encode(text); }
  std::string decode(const std::vector<std::int64_t>& ids) const override { return bytes_.decode(ids); }
  std::int64_t vocab_size() const override { return bytes_.vocab_size(); }
  std::optional<std::int64_t> piece_id(const std::string& piece) const override { return bytes_.piece_id(piece); }
  std::optional<std::int64_t> bos_id() const override { return std::nullopt; }
  std::optional<std::int64_t> eos_id() const override { return bytes_.eos_id(); }
  std::optional<std::int64_t> pad_id() const override { return bytes_.pad_id(); }

 private:
  text::ByteTokenizer bytes_;
};

TEST(Embedder, ATokenizerWithoutBosEmbedsTheTextAlone) {
  const Embedder without_bos(shared_model(), std::make_shared<TokenizerWithoutBos>());
  EXPECT_FALSE(without_bos.options().add_bos);
  const std::int64_t a = text::ByteTokenizer::kFirstByteId + 'a';
  EXPECT_EQ(without_bos.tokens(record("ignored", "abc")), (std::vector<std::int64_t>{a, a + 1, a + 2}));
  // Every text token is pooled: the same embedding as the byte tokenizer's with add_bos off.
  EmbedderOptions no_bos;
  no_bos.add_bos = false;
  const FloatMatrix expected = embedder(no_bos).embed({record("x", "abc")});
  const FloatMatrix got = without_bos.embed({record("x", "abc")});
  EXPECT_LT(max_difference(got.row(0), expected.row(0), got.cols), 1e-6f);
}

TEST(Embedder, EmbeddingTextSelectsThePartOfTheConversation) {
  text::InstructionRecord conversation;
  conversation.messages = {{text::ChatRole::system, "Be brief."},
                           {text::ChatRole::user, "Name a colour."},
                           {text::ChatRole::assistant, "Red."}};
  EXPECT_EQ(embedding_text(conversation, EmbedText::instruction), "Be brief.\n\nName a colour.");
  EXPECT_EQ(embedding_text(conversation, EmbedText::response), "Red.");
  EXPECT_EQ(embedding_text(conversation, EmbedText::both), "Be brief.\n\nName a colour.\n\nRed.");
}

TEST(Embedder, ALayerTheModelLacksIsAnError) {
  EmbedderOptions options;
  options.layer = 3;  // the model has layers 0 (embeddings), 1 and 2
  EXPECT_THROW(embedder(options), Error);
  options.layer = -4;
  EXPECT_THROW(embedder(options), Error);
}

TEST(Embedder, AModelInTrainingModeIsAnError) {
  auto model = tiny_model();
  model->train();
  EXPECT_THROW(Embedder(model, std::make_shared<text::ByteTokenizer>()), Error);
}

}  // namespace
}  // namespace ladle::clustering
