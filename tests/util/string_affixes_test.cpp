#include "lib/util/string_affixes.h"

#include <gtest/gtest.h>

#include <string>

namespace ladle {
namespace {

TEST(StringAffixes, EmptyAffixMatchesEveryText) {
  EXPECT_TRUE(starts_with("lm_head.weight", ""));
  EXPECT_TRUE(ends_with("lm_head.weight", ""));
  EXPECT_TRUE(starts_with("", ""));
  EXPECT_TRUE(ends_with("", ""));
}

TEST(StringAffixes, EqualStringsMatch) {
  EXPECT_TRUE(starts_with("lora_A.weight", "lora_A.weight"));
  EXPECT_TRUE(ends_with("lora_A.weight", "lora_A.weight"));
}

TEST(StringAffixes, AffixLongerThanTheTextDoesNotMatch) {
  EXPECT_FALSE(starts_with("step", "step-00000001"));
  EXPECT_FALSE(ends_with("weight", ".weight"));
  EXPECT_FALSE(starts_with("", "a"));
  EXPECT_FALSE(ends_with("", "a"));
}

TEST(StringAffixes, PrefixMatchesAtTheStartAndSuffixAtTheEndOnly) {
  const std::string name = "model.layers.0.mlp.up_proj.weight";
  EXPECT_TRUE(starts_with(name, "model.layers."));
  EXPECT_FALSE(starts_with(name, "layers."));
  EXPECT_TRUE(ends_with(name, "up_proj.weight"));
  EXPECT_FALSE(ends_with(name, "up_proj"));
  EXPECT_FALSE(ends_with("model.norm.bias", ".weight"));
}

// The strings differ from the affix in the last (or first) character, where a length-only check would pass.
TEST(StringAffixes, SameLengthButDifferentTextDoesNotMatch) {
  EXPECT_FALSE(starts_with("lora_B", "lora_A"));
  EXPECT_FALSE(ends_with("xlora_A", "ylora_A"));
}

}  // namespace
}  // namespace ladle
