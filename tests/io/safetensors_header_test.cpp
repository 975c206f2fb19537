// parse_safetensors_header on files laid out byte by byte here from the format description
// (https://github.com/huggingface/safetensors: u64 little-endian header size, JSON header, data section).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/io/safetensors_header.h"
#include "lib/util/error.h"

namespace ladle::io {
namespace {

const std::string kLabel = "bad.safetensors";

std::string le_u64(std::uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

// A whole file: the header size, the header text, then `data_size` zero bytes of data.
std::string file_with(const std::string& header, std::size_t data_size) {
  return le_u64(header.size()) + header + std::string(data_size, '\0');
}

SafetensorsHeader parse(const std::string& file) {
  return parse_safetensors_header(reinterpret_cast<const std::uint8_t*>(file.data()), file.size(), kLabel);
}

const std::string kGoodEntry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

struct MalformedCase {
  const char* name;
  std::string file;
  const char* phrase;  // must appear in the error message
};

std::vector<MalformedCase> malformed_cases() {
  const std::string good = file_with("{" + kGoodEntry + "}", 8);
  return {
      {"ShorterThanTheSizeField", std::string("\x01\x02\x03", 3), "too short"},
      {"EmptyInput", std::string(), "too short"},
      {"HeaderSizePastEndOfFile", le_u64(100) + "{}", "runs past the end"},
      {"HugeHeaderSize", le_u64(1ull << 63) + "{}", "exceeds the limit"},
      {"HeaderSizeJustOverLimit", le_u64(100'000'001) + "{}", "exceeds the limit"},
      {"TruncatedData", good.substr(0, good.size() - 1), "ends past the data section"},
      {"NotJson", file_with("{not json}", 0), "invalid JSON"},
      {"InvalidUtf8", file_with("{\"\xff\":1}", 0), "UTF-8"},
      {"TruncatedJson", file_with(R"({"a":{"dtype":)", 0), "invalid JSON"},
      {"JsonArray", file_with("[1,2]", 0), "JSON object"},
      {"LeadingWhitespace", file_with(" {}", 0), "starting with '{'"},
      {"EmptyHeader", file_with("", 0), "starting with '{'"},
      {"DuplicateTensorNames", file_with("{" + kGoodEntry + "," + kGoodEntry + "}", 8), "duplicate key 'a'"},
      {"DuplicateKeyInEntry", file_with(R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
       "duplicate key"},
      {"DeeplyNested", file_with(R"({"a":{"dtype":[[[[1]]]]}})", 0), "nested deeper"},
      {"EntryNotObject", file_with(R"({"a":5})", 0), "entry must be a JSON object"},
      {"MissingDataOffsets", file_with(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "missing the key 'data_offsets'"},
      {"MissingDtype", file_with(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8), "missing the key 'dtype'"},
      {"ExtraKey", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8),
       "unexpected key 'extra'"},
      {"UnknownDtype", file_with(R"({"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}})", 8),
       "unknown dtype 'F7' (known: BOOL, U8"},
      {"DtypeNotString", file_with(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", 4),
       "dtype must be a string"},
      {"ShapeNotArray", file_with(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8),
       "shape must be an array"},
      {"NegativeShapeEntry", file_with(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "non-negative integers, got -2"},
      {"FloatShapeEntry", file_with(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8),
       "non-negative integers, got 2.0"},
      {"ShapeEntryBeyondU64",
       file_with(R"({"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}})", 8),
       "non-negative integers"},
      {"ShapeEntryBeyondI64",
       file_with(R"({"a":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,8]}})", 8),
       "more elements than fit in 64 bits"},
      {"ElementCountOverflows",
       file_with(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
       "more elements than fit in 64 bits"},
      {"ByteCountOverflows",
       file_with(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", 8),
       "more bytes than fit in 64 bits"},
      {"OffsetsNotAPair", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8),
       "two non-negative integers"},
      {"NegativeOffset", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8),
       "two non-negative integers"},
      {"FloatOffset", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}})", 8),
       "two non-negative integers"},
      {"OffsetsPastDataSection", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
       "[0, 8) ends past the data section (4 bytes)"},
      {"HugeOffsets",
       file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}})", 8),
       "ends past the data section"},
      {"ReversedOffsets", file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
       "[8, 0) is reversed"},
      {"SizeMismatchWithDtype", file_with(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "holds 8 bytes but shape [3] of F32 needs 12"},
      {"OverlappingRanges",
       file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                 12),
       "tensor 'b': data range [4, 12) overlaps tensor 'a'"},
      {"SameRangeTwice",
       file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                 8),
       "overlaps"},
      {"HoleBetweenTensors",
       file_with(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                 12),
       "hole of unindexed bytes [4, 8)"},
      {"HoleAtStart", file_with(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "hole"},
      {"TrailingBytes", file_with(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8),
       "trailing bytes: the tensors index 4 bytes but the data section holds 8"},
      {"DataWithoutTensors", file_with("{}", 3), "trailing bytes"},
      {"MetadataNotObject", file_with(R"({"__metadata__":["x"]})", 0), "__metadata__ must be an object"},
      {"MetadataNonStringValue", file_with(R"({"__metadata__":{"epoch":3}})", 0),
       "__metadata__ value for 'epoch' must be a string"},
  };
}

class SafetensorsMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(SafetensorsMalformed, IsRejectedWithALabelledSpecificError) {
  const MalformedCase& c = GetParam();
  try {
    parse(c.file);
    FAIL() << "expected ladle::Error containing \"" << c.phrase << "\"";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(kLabel, 0), 0u) << message;
    EXPECT_NE(message.find(c.phrase), std::string::npos) << "expected \"" << c.phrase << "\" in: " << message;
  }
}

INSTANTIATE_TEST_SUITE_P(Safetensors, SafetensorsMalformed, ::testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SafetensorsHeader, FieldsAreReadAsLaidOut) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}})";
  const auto parsed = parse(file_with(header, 12));
  EXPECT_EQ(parsed.header_size, header.size());
  EXPECT_EQ(parsed.data_offset(), 8 + header.size());
  ASSERT_EQ(parsed.tensors.size(), 1u);
  const TensorEntry& w = parsed.tensors[0];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.dtype, Dtype::BF16);
  EXPECT_EQ(w.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(w.begin, 0u);
  EXPECT_EQ(w.end, 12u);
  EXPECT_EQ(w.numel(), 6u);
  EXPECT_EQ(w.nbytes(), 12u);
  EXPECT_EQ(parsed.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
}

TEST(SafetensorsHeader, TensorsAreSortedInFileOrder) {
  // JSON key order (and nlohmann's alphabetical order) says a, b; the data says b comes first.
  const auto parsed = parse(file_with(R"({"a":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},)"
                                      R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                                      8));
  ASSERT_EQ(parsed.tensors.size(), 2u);
  EXPECT_EQ(parsed.tensors[0].name, "b");
  EXPECT_EQ(parsed.tensors[1].name, "a");
}

TEST(SafetensorsHeader, SpacePaddingAfterTheJsonIsAccepted) {
  const auto parsed = parse(file_with("{" + kGoodEntry + "}       ", 8));
  EXPECT_EQ(parsed.tensors.size(), 1u);
}

TEST(SafetensorsHeader, ZeroSizeTensorsAreValidAnywhereARangeStartsOrEnds) {
  const auto parsed = parse(file_with(R"({"empty_start":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
                                      R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                      R"("empty_mid":{"dtype":"I64","shape":[5,0],"data_offsets":[4,4]},)"
                                      R"("also_mid":{"dtype":"U8","shape":[0],"data_offsets":[4,4]},)"
                                      R"("b":{"dtype":"F32","shape":[],"data_offsets":[4,8]},)"
                                      R"("empty_end":{"dtype":"BF16","shape":[0],"data_offsets":[8,8]}})",
                                      8));
  ASSERT_EQ(parsed.tensors.size(), 6u);
  EXPECT_EQ(parsed.tensors.back().name, "empty_end");
}

TEST(SafetensorsHeader, FileWithNoTensorsIsValid) {
  const auto parsed = parse(file_with("{}", 0));
  EXPECT_TRUE(parsed.tensors.empty());
  EXPECT_TRUE(parsed.metadata.empty());
}

TEST(SafetensorsHeader, ScalarHasEmptyShapeAndOneElement) {
  const auto parsed = parse(file_with(R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})", 8));
  ASSERT_EQ(parsed.tensors.size(), 1u);
  EXPECT_TRUE(parsed.tensors[0].shape.empty());
  EXPECT_EQ(parsed.tensors[0].numel(), 1u);
}

TEST(SafetensorsHeader, UntrustedNamesAreEscapedInMessages) {
  try {
    parse(file_with(R"({"bad\nname\u0001":{"dtype":"X","shape":[],"data_offsets":[0,0]}})", 0));
    FAIL() << "expected ladle::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'bad\\x0aname\\x01'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ladle::io
