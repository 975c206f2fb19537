#include <gtest/gtest.h>

#include <string>

#include "lib/io/dtype.h"
#include "lib/io/torch_dtype.h"
#include "lib/util/error.h"

namespace ladle::io {
namespace {

// The dtype table of the safetensors format description: name and bytes per element.
struct NamedDtype {
  const char* name;
  Dtype dtype;
  std::size_t size;
};
constexpr NamedDtype kFormatTable[] = {
    {"BOOL", Dtype::BOOL, 1},       {"U8", Dtype::U8, 1},   {"I8", Dtype::I8, 1},   {"F8_E5M2", Dtype::F8_E5M2, 1},
    {"F8_E4M3", Dtype::F8_E4M3, 1}, {"I16", Dtype::I16, 2}, {"U16", Dtype::U16, 2}, {"F16", Dtype::F16, 2},
    {"BF16", Dtype::BF16, 2},       {"I32", Dtype::I32, 4}, {"U32", Dtype::U32, 4}, {"F32", Dtype::F32, 4},
    {"F64", Dtype::F64, 8},         {"I64", Dtype::I64, 8}, {"U64", Dtype::U64, 8},
};

TEST(SafetensorsDtype, NamesAndSizesFollowTheFormat) {
  for (const auto& row : kFormatTable) {
    SCOPED_TRACE(row.name);
    ASSERT_EQ(parse_dtype(row.name), row.dtype);
    EXPECT_STREQ(dtype_name(row.dtype), row.name);
    EXPECT_EQ(dtype_size(row.dtype), row.size);
  }
}

TEST(SafetensorsDtype, UnknownAndLowerCaseNamesAreRejected) {
  EXPECT_FALSE(parse_dtype("f32"));
  EXPECT_FALSE(parse_dtype("F128"));
  EXPECT_FALSE(parse_dtype(""));
}

TEST(SafetensorsDtype, TorchMappingCoversTheTypesLibtorchHas) {
  EXPECT_EQ(to_scalar_type(Dtype::BF16), c10::ScalarType::BFloat16);
  EXPECT_EQ(to_scalar_type(Dtype::I8), c10::ScalarType::Char);
  EXPECT_EQ(to_scalar_type(Dtype::U8), c10::ScalarType::Byte);
  for (Dtype missing : {Dtype::F8_E5M2, Dtype::F8_E4M3, Dtype::U16, Dtype::U32, Dtype::U64}) {
    EXPECT_FALSE(to_scalar_type(missing)) << dtype_name(missing);
  }
  for (const auto& row : kFormatTable) {
    if (auto type = to_scalar_type(row.dtype)) {
      EXPECT_EQ(from_scalar_type(*type), row.dtype) << row.name;
    }
  }
}

TEST(SafetensorsDtype, ComplexTypesCannotBeStored) {
  try {
    from_scalar_type(c10::ScalarType::ComplexFloat);
    FAIL() << "expected ladle::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be stored in safetensors"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ladle::io
