// write_safetensors -> SafetensorsReader round trips, and the reader's zero-copy, copy and error paths.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "lib/io/safetensors_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

struct ScratchDir {
  fs::path path{ladle::testing::make_temp_dir("io-reader")};
  ~ScratchDir() { fs::remove_all(path); }
};

std::string bytes_of(const at::Tensor& tensor) {
  const at::Tensor dense = tensor.contiguous();
  return std::string(static_cast<const char*>(dense.data_ptr()), dense.nbytes());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string le_u64(std::uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

// Six values per dtype, including each integer type's extremes and, for floats, infinities, -0 and NaN.
at::Tensor sample_values(at::ScalarType type) {
  if (type == at::kBool) return at::tensor(std::vector<std::uint8_t>{1, 0, 1, 1, 0, 0}).to(at::kBool).reshape({2, 3});
  if (at::isFloatingType(type)) {
    const double inf = std::numeric_limits<double>::infinity();
    return at::tensor(std::vector<double>{-inf, -0.0, 0.5, 1.0, 65504.0, std::nan("")}).to(type).reshape({2, 3});
  }
  std::int64_t lowest = 0, highest = 0;
  switch (type) {
    case at::kByte: lowest = 0, highest = 255; break;
    case at::kChar: lowest = -128, highest = 127; break;
    case at::kShort: lowest = -32768, highest = 32767; break;
    case at::kInt:
      lowest = std::numeric_limits<std::int32_t>::min(), highest = std::numeric_limits<std::int32_t>::max();
      break;
    default: lowest = std::numeric_limits<std::int64_t>::min(), highest = std::numeric_limits<std::int64_t>::max();
  }
  return at::tensor(std::vector<std::int64_t>{lowest, lowest + 1, 0, 1, 42, highest}).to(type).reshape({2, 3});
}

void expect_same_tensor(const at::Tensor& actual, const at::Tensor& expected) {
  EXPECT_EQ(actual.scalar_type(), expected.scalar_type());
  EXPECT_EQ(actual.sizes(), expected.sizes());
  EXPECT_EQ(bytes_of(actual), bytes_of(expected));  // bit-exact, NaN payloads and -0 included
}

class SafetensorsRoundTrip : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(SafetensorsRoundTrip, EveryTorchDtypeIsBitExact) {
  ScratchDir dir;
  const at::Tensor values = sample_values(GetParam());
  NamedTensors tensors;
  tensors.insert("values", values);
  tensors.insert("scalar", values.flatten()[4]);  // 0-d view with a storage offset
  tensors.insert("empty", at::empty({0, 4}, values.options()));
  tensors.insert("transposed", values.t());  // non-contiguous
  write_safetensors(dir.path / "t.safetensors", tensors);

  SafetensorsReader reader(dir.path / "t.safetensors");
  ASSERT_EQ(reader.entries().size(), 4u);
  expect_same_tensor(reader.tensor("values"), values);
  expect_same_tensor(reader.tensor("scalar"), values.flatten()[4]);
  EXPECT_EQ(reader.tensor("scalar").dim(), 0);
  expect_same_tensor(reader.tensor("empty"), at::empty({0, 4}, values.options()));
  expect_same_tensor(reader.tensor("transposed"), values.t().contiguous());
}

INSTANTIATE_TEST_SUITE_P(Safetensors, SafetensorsRoundTrip,
                         ::testing::Values(at::kBool, at::kByte, at::kChar, at::kShort, at::kInt, at::kLong, at::kHalf,
                                           at::kBFloat16, at::kFloat, at::kDouble),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

TEST(SafetensorsReader, MetadataRoundTrips) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("w", at::ones({2}));
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "héllo \"quoted\""}};
  write_safetensors(dir.path / "m.safetensors", tensors, metadata);
  EXPECT_EQ(SafetensorsReader(dir.path / "m.safetensors").metadata(), metadata);
}

TEST(SafetensorsReader, WriterAlignsEveryTensorToItsElementSize) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("i8", at::ones({3}, at::kChar));
  tensors.insert("f64", at::ones({2}, at::kDouble));
  tensors.insert("f16", at::ones({3}, at::kHalf));
  tensors.insert("i32", at::ones({1}, at::kInt));
  tensors.insert("flag", at::ones({1}, at::kBool));
  write_safetensors(dir.path / "a.safetensors", tensors);

  SafetensorsReader reader(dir.path / "a.safetensors");
  EXPECT_EQ(reader.header().data_offset() % 8, 0u);
  std::vector<std::string> file_order;
  for (const auto& entry : reader.entries()) {
    EXPECT_EQ(entry.begin % dtype_size(entry.dtype), 0u) << entry.name;
    file_order.push_back(entry.name);
  }
  // Largest element first; equal sizes keep insertion order (i8 before flag).
  EXPECT_EQ(file_order, (std::vector<std::string>{"f64", "i32", "f16", "i8", "flag"}));
}

TEST(SafetensorsReader, AlignedTensorsAreZeroCopyViewsIntoTheMapping) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("a", at::arange(6, at::kFloat));
  tensors.insert("b", at::arange(5, at::kShort));
  write_safetensors(dir.path / "z.safetensors", tensors);
  SafetensorsReader reader(dir.path / "z.safetensors");
  for (const char* name : {"a", "b"}) {
    EXPECT_EQ(reader.tensor(name).data_ptr(), static_cast<const void*>(reader.raw_bytes(name).data)) << name;
  }
}

TEST(SafetensorsReader, ViewOutlivesTheReader) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("w", at::arange(1000, at::kLong));
  write_safetensors(dir.path / "v.safetensors", tensors);
  at::Tensor view;
  {
    SafetensorsReader reader(dir.path / "v.safetensors");
    view = reader.tensor("w");
  }
  EXPECT_TRUE(at::equal(view, at::arange(1000, at::kLong)));
}

TEST(SafetensorsReader, WritingIntoAViewChangesNeitherTheFileNorOtherReaders) {
  ScratchDir dir;
  const fs::path path = dir.path / "cow.safetensors";
  NamedTensors tensors;
  tensors.insert("w", at::arange(16, at::kFloat));
  write_safetensors(path, tensors);
  const std::string before = read_file(path);

  SafetensorsReader reader(path);
  at::Tensor view = reader.tensor("w");
  view.fill_(7.0);
  EXPECT_TRUE(at::equal(view, at::full({16}, 7.0)));
  EXPECT_EQ(read_file(path), before);
  EXPECT_TRUE(at::equal(SafetensorsReader(path).tensor("w"), at::arange(16, at::kFloat)));
}

// A header padded so that the data section starts 2 bytes past a 4-byte boundary: F32 data must be copied.
TEST(SafetensorsReader, UnalignedDataIsCopiedWithTheSameValues) {
  ScratchDir dir;
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  while ((8 + header.size()) % 4 != 2) header += ' ';
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);  // 1.0f, -2.0f little-endian
  write_bytes(dir.path / "u.safetensors", le_u64(header.size()) + header + data);

  SafetensorsReader reader(dir.path / "u.safetensors");
  const at::Tensor x = reader.tensor("x");
  EXPECT_NE(x.data_ptr(), static_cast<const void*>(reader.raw_bytes("x").data));
  EXPECT_EQ(x[0].item<float>(), 1.0f);
  EXPECT_EQ(x[1].item<float>(), -2.0f);
}

TEST(SafetensorsReader, DtypeLibtorchLacksThrowsButRawBytesWork) {
  ScratchDir dir;
  const std::string header = R"({"u":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}})";
  write_bytes(dir.path / "u16.safetensors", le_u64(header.size()) + header + std::string("\x01\x00\xff\xff", 4));
  SafetensorsReader reader(dir.path / "u16.safetensors");
  try {
    reader.tensor("u");
    FAIL() << "expected ladle::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("u16.safetensors: tensor 'u': dtype U16 is unsupported"), std::string::npos) << message;
    EXPECT_NE(message.find("raw_bytes()"), std::string::npos) << message;
  }
  const ByteRange raw = reader.raw_bytes("u");
  ASSERT_EQ(raw.size, 4u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(raw.data), raw.size), std::string("\x01\x00\xff\xff", 4));
}

TEST(SafetensorsReader, BoolBytesOtherThanZeroOrOneAreRejected) {
  ScratchDir dir;
  const std::string header = R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})";
  write_bytes(dir.path / "b.safetensors", le_u64(header.size()) + header + std::string("\x01\x00\x02", 3));
  SafetensorsReader reader(dir.path / "b.safetensors");
  EXPECT_THROW(
      {
        try {
          reader.tensor("b");
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("BOOL element 2 holds 2 (expected 0 or 1)"), std::string::npos);
          throw;
        }
      },
      Error);
}

// read_tensor copies the bytes out with pread: the same values as the mapped view, in memory of its own, for every
// dtype, whole or by rows (of a tensor in the middle of the data section, so the offset arithmetic is exercised).
TEST(SafetensorsReader, ReadTensorCopiesTheBytesWholeOrByRows) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("first", at::arange(7, at::kShort));
  tensors.insert("matrix", at::arange(5 * 3, at::kFloat).reshape({5, 3}));
  tensors.insert("scalar", at::tensor(2.5, at::kDouble));
  tensors.insert("flags", sample_values(at::kBool));
  write_safetensors(dir.path / "r.safetensors", tensors);
  SafetensorsReader reader(dir.path / "r.safetensors");
  for (const char* name : {"first", "matrix", "scalar", "flags"}) {
    const at::Tensor copy = reader.read_tensor(name);
    expect_same_tensor(copy, tensors.at(name));
    EXPECT_NE(copy.data_ptr(), static_cast<const void*>(reader.raw_bytes(name).data)) << name;
  }
  expect_same_tensor(reader.read_tensor("matrix", 1, 3), tensors.at("matrix").narrow(0, 1, 3));
  expect_same_tensor(reader.read_tensor("matrix", 4), tensors.at("matrix").narrow(0, 4, 1));
  expect_same_tensor(reader.read_tensor("matrix", 5), tensors.at("matrix").narrow(0, 5, 0));
}

// The reader keeps the file it opened: a file renamed over its path later (a run writing the next snapshot under the
// same name) is not read with the first file's header.
TEST(SafetensorsReader, ReadTensorReadsTheFileItOpenedAfterAnotherTakesItsPath) {
  ScratchDir dir;
  const fs::path path = dir.path / "w.safetensors";
  NamedTensors first, second;
  first.insert("matrix", at::arange(6, at::kFloat).reshape({3, 2}));
  second.insert("matrix", at::full({3, 2}, -1.0f));
  write_safetensors(path, first);
  SafetensorsReader reader(path);
  write_safetensors(dir.path / "next.safetensors", second);
  fs::rename(dir.path / "next.safetensors", path);
  expect_same_tensor(reader.read_tensor("matrix"), first.at("matrix"));
}

TEST(SafetensorsReader, ReadTensorRefusesRowsOutsideTheTensorAndAShrunkFile) {
  ScratchDir dir;
  const fs::path path = dir.path / "s.safetensors";
  NamedTensors tensors;
  tensors.insert("matrix", at::arange(4 * 2, at::kFloat).reshape({4, 2}));
  write_safetensors(path, tensors);
  SafetensorsReader reader(path);
  for (const auto& [first, count] : std::vector<std::pair<std::int64_t, std::int64_t>>{{3, 2}, {-1, 1}, {5, -1}}) {
    try {
      reader.read_tensor("matrix", first, count);
      ADD_FAILURE() << "rows " << first << " +" << count << " were read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("s.safetensors: tensor 'matrix': rows ["), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("outside its 4 row(s)"), std::string::npos) << e.what();
    }
  }
  fs::resize_file(path, fs::file_size(path) - 4);  // the last entry's bytes, after the header was read
  try {
    reader.read_tensor("matrix");
    ADD_FAILURE() << "a shrunk file was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("s.safetensors: tensor 'matrix': the file ended 28 bytes into the 32"),
              std::string::npos)
        << e.what();
  }
}

TEST(SafetensorsReader, MissingTensorErrorNamesFileAndTensor) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("w", at::ones({1}));
  write_safetensors(dir.path / "one.safetensors", tensors);
  SafetensorsReader reader(dir.path / "one.safetensors");
  EXPECT_FALSE(reader.contains("nope"));
  try {
    reader.entry("nope");
    FAIL() << "expected ladle::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("one.safetensors: no tensor named 'nope'"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsReader, TruncatedFileIsRejectedWithItsPath) {
  ScratchDir dir;
  const fs::path path = dir.path / "cut.safetensors";
  NamedTensors tensors;
  tensors.insert("w", at::ones({4}));
  write_safetensors(path, tensors);
  fs::resize_file(path, fs::file_size(path) - 1);
  try {
    SafetensorsReader reader(path);
    FAIL() << "expected ladle::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(path.string(), 0), 0u) << message;
    EXPECT_NE(message.find("ends past the data section"), std::string::npos) << message;
  }
}

TEST(SafetensorsReader, EmptyFileIsRejected) {
  ScratchDir dir;
  write_bytes(dir.path / "empty.safetensors", "");
  try {
    SafetensorsReader reader(dir.path / "empty.safetensors");
    FAIL() << "expected ladle::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty.safetensors: file is empty"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsReader, MissingFileErrorHasPathAndReason) {
  ScratchDir dir;
  try {
    SafetensorsReader reader(dir.path / "absent.safetensors");
    FAIL() << "expected ladle::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("absent.safetensors: cannot open: No such file or directory"), std::string::npos) << message;
  }
}

TEST(SafetensorsWriter, ReservedMetadataNameIsRejected) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("__metadata__", at::ones({1}));
  EXPECT_THROW(write_safetensors(dir.path / "r.safetensors", tensors), Error);
  EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(SafetensorsWriter, ComplexTensorIsRejectedNamingIt) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("c", at::zeros({2}, at::kComplexFloat));
  try {
    write_safetensors(dir.path / "c.safetensors", tensors);
    FAIL() << "expected ladle::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("c.safetensors: tensor 'c'"), std::string::npos) << message;
    EXPECT_NE(message.find("cannot be stored in safetensors"), std::string::npos) << message;
  }
  EXPECT_TRUE(fs::is_empty(dir.path));
}

TEST(SafetensorsWriter, LeavesOnlyTheFinishedFile) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("w", at::ones({3}));
  write_safetensors(dir.path / "w.safetensors", tensors);
  std::vector<std::string> names;
  for (const auto& item : fs::directory_iterator(dir.path)) names.push_back(item.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"w.safetensors"});
}

TEST(SafetensorsWriter, OverwritesAnExistingFile) {
  ScratchDir dir;
  NamedTensors first, second;
  first.insert("old", at::ones({3}));
  second.insert("new", at::zeros({2}));
  write_safetensors(dir.path / "w.safetensors", first);
  write_safetensors(dir.path / "w.safetensors", second);
  SafetensorsReader reader(dir.path / "w.safetensors");
  EXPECT_FALSE(reader.contains("old"));
  EXPECT_TRUE(reader.contains("new"));
}

}  // namespace
}  // namespace ladle::io
