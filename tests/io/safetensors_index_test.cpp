// parse_safetensors_index on index texts written here (CheckpointReader's tests cover the index with its shards).
#include "lib/io/safetensors_index.h"

#include <gtest/gtest.h>

#include "tests/support/test_helpers.h"

namespace ladle::io {
namespace {

using testing::contains;
using testing::error_message;

TEST(SafetensorsIndex, GroupsTensorsByShardInFileNameOrder) {
  const auto index = parse_safetensors_index(R"({"metadata": {"total_size": 24}, "weight_map": {
      "c": "model-00002-of-00002.safetensors", "a": "model-00001-of-00002.safetensors",
      "b": "model-00002-of-00002.safetensors"}})",
                                             "index.json");
  ASSERT_EQ(index.tensors_by_shard.size(), 2u);
  EXPECT_EQ(index.tensors_by_shard.begin()->first, "model-00001-of-00002.safetensors");
  EXPECT_EQ(index.tensors_by_shard.at("model-00001-of-00002.safetensors"), std::vector<std::string>{"a"});
  EXPECT_EQ(index.tensors_by_shard.at("model-00002-of-00002.safetensors").size(), 2u);
  EXPECT_EQ(index.tensor_names.size(), 3u);
  ASSERT_TRUE(index.total_size.has_value());
  EXPECT_EQ(*index.total_size, 24);
}

TEST(SafetensorsIndex, TotalSizeIsAbsentWhenTheMetadataLacksIt) {
  EXPECT_FALSE(parse_safetensors_index(R"({"weight_map": {"a": "x.safetensors"}})", "i").total_size.has_value());
  EXPECT_FALSE(
      parse_safetensors_index(R"({"metadata": "v1", "weight_map": {"a": "x.safetensors"}})", "i").total_size.has_value());
}

TEST(SafetensorsIndex, ShardsOutsideTheFolderAreRefused) {
  for (const char* shard : {"../x.safetensors", "sub/x.safetensors", "/etc/passwd", ".", "..", ""}) {
    const std::string text = std::string(R"({"weight_map": {"w": ")") + shard + "\"}}";
    const auto message = error_message([&] { parse_safetensors_index(text, "m/index.json"); });
    EXPECT_TRUE(contains(message, "m/index.json: weight_map entry for tensor 'w': shard")) << message;
    EXPECT_TRUE(contains(message, "must be a plain file name inside the checkpoint folder")) << message;
  }
}

TEST(SafetensorsIndex, MalformedIndexesNameWhatIsWrong) {
  EXPECT_TRUE(contains(error_message([] { parse_safetensors_index("[]", "i"); }), "i: must be a JSON object, got array"));
  EXPECT_TRUE(contains(error_message([] { parse_safetensors_index("{}", "i"); }), "i: needs a \"weight_map\" object"));
  EXPECT_TRUE(contains(error_message([] { parse_safetensors_index(R"({"weight_map": {}})", "i"); }),
                       "i: weight_map lists no tensors"));
  EXPECT_TRUE(contains(error_message([] { parse_safetensors_index(R"({"weight_map": {"w": 3}})", "i"); }),
                       "i: weight_map entry for tensor 'w': must be a shard file name string"));
}

}  // namespace
}  // namespace ladle::io
