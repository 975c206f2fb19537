#include "lib/util/splitmix64.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace {

// The first outputs of Vigna's reference splitmix64.c seeded with 0 (state advanced by 0x9E3779B97F4A7C15 per call).
TEST(Splitmix64, MatchesTheReferenceGeneratorsFirstOutputs) {
  EXPECT_EQ(ladle::splitmix64(0), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(ladle::splitmix64(0x9E3779B97F4A7C15ull), 0x6E789E6AA1B965F4ull);
  EXPECT_EQ(ladle::splitmix64(0x9E3779B97F4A7C15ull * 2), 0x06C45D188009454Full);
}

}  // namespace
