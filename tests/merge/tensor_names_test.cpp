// Layer structure from Hugging Face tensor names.
#include <gtest/gtest.h>

#include "lib/merge/tensor_names.h"

namespace ladle::merge {
namespace {

TEST(TensorNames, LlamaLayerTensorSplitsIntoStackIndexAndSuffix) {
  const auto layer = parse_layer_tensor_name("model.layers.12.mlp.up_proj.weight");
  ASSERT_TRUE(layer.has_value());
  EXPECT_EQ(layer->stack, "model.layers");
  EXPECT_EQ(layer->index, 12);
  EXPECT_EQ(layer->suffix, "mlp.up_proj.weight");
  EXPECT_EQ(layer_tensor_name(layer->stack, 3, layer->suffix), "model.layers.3.mlp.up_proj.weight");
}

TEST(TensorNames, Gpt2LayerTensorIsRecognised) {
  const auto layer = parse_layer_tensor_name("transformer.h.0.attn.c_attn.weight");
  ASSERT_TRUE(layer.has_value());
  EXPECT_EQ(layer->stack, "transformer.h");
  EXPECT_EQ(layer->index, 0);
}

TEST(TensorNames, NestedStackUsesTheLastLayersComponent) {
  const auto layer = parse_layer_tensor_name("model.language_model.layers.2.self_attn.q_proj.weight");
  ASSERT_TRUE(layer.has_value());
  EXPECT_EQ(layer->stack, "model.language_model.layers");
  EXPECT_EQ(layer->index, 2);
}

TEST(TensorNames, TensorsOutsideTheStackAreNotLayers) {
  EXPECT_FALSE(parse_layer_tensor_name("model.embed_tokens.weight"));
  EXPECT_FALSE(parse_layer_tensor_name("lm_head.weight"));
  EXPECT_FALSE(parse_layer_tensor_name("model.layers.01.mlp.weight"));  // not a canonical index
  EXPECT_FALSE(parse_layer_tensor_name("model.layers.3"));              // no suffix
  EXPECT_FALSE(parse_layer_tensor_name("model.blocks.x.3.weight"));
}

TEST(TensorNames, VocabularyTensorsAreEmbeddingsAndOutputHeads) {
  EXPECT_TRUE(is_vocabulary_tensor("model.embed_tokens.weight"));
  EXPECT_TRUE(is_vocabulary_tensor("lm_head.weight"));
  EXPECT_TRUE(is_vocabulary_tensor("transformer.wte.weight"));
  EXPECT_FALSE(is_vocabulary_tensor("transformer.wpe.weight"));
  EXPECT_FALSE(is_vocabulary_tensor("model.norm.weight"));
}

TEST(TensorNames, EmbeddingsComeBeforeTheLayersAndEverythingElseAfter) {
  EXPECT_TRUE(is_pre_layer_tensor("model.embed_tokens.weight"));
  EXPECT_TRUE(is_pre_layer_tensor("transformer.wpe.weight"));
  EXPECT_FALSE(is_pre_layer_tensor("model.norm.weight"));
  EXPECT_FALSE(is_pre_layer_tensor("lm_head.weight"));
  EXPECT_FALSE(is_pre_layer_tensor("embed_out.weight"));
}

}  // namespace
}  // namespace ladle::merge
