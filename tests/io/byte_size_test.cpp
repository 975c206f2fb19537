#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "lib/io/safetensors_writer.h"
#include "lib/util/error.h"

namespace ladle::io {
namespace {

struct SizeCase {
  const char* text;
  std::uint64_t bytes;
};

TEST(ByteSize, ParsesNumbersWithBinaryAndDecimalUnits) {
  const SizeCase cases[] = {
      {"1024", 1024},
      {"0", 0},
      {"12B", 12},
      {"4k", 4096},
      {"500M", 500ull << 20},
      {"2G", 2ull << 30},
      {"1T", 1ull << 40},
      {"3KiB", 3072},
      {"1.5GiB", 1610612736},  // 1.5 * 2^30
      {"10KB", 10000},
      {"5GB", 5000000000},  // Hugging Face's max_shard_size="5GB"
      {"2TB", 2000000000000},
      {" 7 MB ", 7000000},
      {"0.5K", 512},
      {"1.1MiB", 1153433},  // 1153433.6 rounded down
      {"18446744073709551615", 18446744073709551615ull},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_byte_size(c.text), c.bytes) << c.text;
}

TEST(ByteSize, RejectsMalformedTextQuotingIt) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "no number"},
      {"GB", "no number"},
      {"-1", "no number"},
      {"5XB", "unknown unit"},
      {"5 G B", "unknown unit"},
      {"1.2.3", "unknown unit"},
      {"5Gb", "'b' means bits"},
      {"99999999999999999999", "too many digits"},
      {"16777216TiB", "larger than 2^64 - 1 bytes"},  // 2^24 * 2^40 = 2^64
  };
  for (const auto& [text, phrase] : cases) {
    try {
      parse_byte_size(text);
      ADD_FAILURE() << "expected ladle::Error for '" << text << "'";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(std::string("'") + text + "'"), std::string::npos) << message;
      EXPECT_NE(message.find(phrase), std::string::npos) << "expected \"" << phrase << "\" in: " << message;
    }
  }
}

}  // namespace
}  // namespace ladle::io
