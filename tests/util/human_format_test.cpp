#include "lib/util/human_format.h"

#include <gtest/gtest.h>

#include <limits>

namespace ladle {

TEST(HumanFormat, BytesUseBinaryUnitsWithOneDecimal) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(5.0 * 1024 * 1024 * 1024), "5.0 GiB");
}

TEST(HumanFormat, CountsUseDecimalSuffixes) {
  EXPECT_EQ(format_count(950), "950");
  EXPECT_EQ(format_count(1234567), "1.23M");
  EXPECT_EQ(format_count(6.74e9), "6.74G");
}

TEST(HumanFormat, DurationsShowHoursOnlyWhenNeeded) {
  EXPECT_EQ(format_duration(75.4), "1:15");
  EXPECT_EQ(format_duration(3725), "1:02:05");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "?");
}

}  // namespace ladle
