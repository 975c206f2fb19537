// Interoperability with an independent implementation: tests/tools/write_safetensors.py (Python standard
// library, written from the format description) writes files ladle must read, and checks files ladle writes
// (also with torch.frombuffer when PyTorch imports). Expected values are closed forms (arange) or bytes
// worked out by hand from the dtype definitions.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/io/safetensors_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kTool = std::string(LADLE_SOURCE_DIR) + "/tests/tools/write_safetensors.py";

struct ScratchDir {
  fs::path path{ladle::testing::make_temp_dir("io-python")};
  ~ScratchDir() { fs::remove_all(path); }
};

// Runs the tool; fails the test with its output when it does not succeed.
void run_tool(const std::string& command, const fs::path& first, const fs::path& second) {
  const auto result =
      ladle::testing::run_command(ladle::testing::python_program(), {kTool, command, first.string(), second.string()});
  ASSERT_EQ(result.exit_code, 0) << "write_safetensors.py " << command << " failed:\n" << result.out << result.err;
}

// `start` is an integer for integer dtypes (the tool packs exact Python ints).
json arange_tensor(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
                   const json& start = 0) {
  return {{"name", name}, {"dtype", dtype}, {"shape", shape}, {"values", "arange"}, {"start", start}};
}

fs::path write_with_python(const ScratchDir& dir, const json& spec, const std::string& file_name) {
  const fs::path spec_path = dir.path / (file_name + ".json");
  std::ofstream(spec_path) << spec.dump();
  const fs::path out = dir.path / file_name;
  run_tool("write", spec_path, out);
  return out;
}

std::string raw(const SafetensorsReader& reader, const std::string& name) {
  const ByteRange bytes = reader.raw_bytes(name);
  return std::string(reinterpret_cast<const char*>(bytes.data), bytes.size);
}

TEST(SafetensorsPython, ReadsEveryTorchDtypeFromTheIndependentWriter) {
  ScratchDir dir;
  // start -3: negative values for the signed types; unsigned and BOOL start at 0.
  const std::vector<std::pair<std::string, at::ScalarType>> dtypes = {
      {"I8", at::kChar},  {"I16", at::kShort},     {"I32", at::kInt},   {"I64", at::kLong},
      {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"F32", at::kFloat}, {"F64", at::kDouble}};
  json spec = {{"metadata", {{"source", "python"}}}, {"tensors", json::array()}};
  for (const auto& [dtype, type] : dtypes) spec["tensors"].push_back(arange_tensor(dtype, dtype, {2, 3}, -3));
  spec["tensors"].push_back(arange_tensor("U8", "U8", {7}, 249));  // up to 255
  spec["tensors"].push_back(arange_tensor("BOOL", "BOOL", {5}));   // 0 1 0 1 0
  spec["tensors"].push_back(arange_tensor("scalar", "F64", {}, 2.5));
  spec["tensors"].push_back(arange_tensor("empty", "F32", {3, 0}));
  const fs::path path = write_with_python(dir, spec, "all.safetensors");

  SafetensorsReader reader(path);
  EXPECT_EQ(reader.metadata(), (std::map<std::string, std::string>{{"source", "python"}}));
  for (const auto& [dtype, type] : dtypes) {
    SCOPED_TRACE(dtype);
    const at::Tensor expected = at::arange(-3, 3, at::kDouble).to(type).reshape({2, 3});
    const at::Tensor actual = reader.tensor(dtype);
    EXPECT_EQ(actual.scalar_type(), type);
    EXPECT_TRUE(at::equal(actual, expected)) << actual;
  }
  EXPECT_TRUE(at::equal(reader.tensor("U8"), at::arange(249, 256, at::kLong).to(at::kByte)));
  EXPECT_TRUE(at::equal(reader.tensor("BOOL"), at::tensor(std::vector<std::uint8_t>{0, 1, 0, 1, 0}).to(at::kBool)));
  EXPECT_EQ(reader.tensor("scalar").dim(), 0);
  EXPECT_EQ(reader.tensor("scalar").item<double>(), 2.5);
  EXPECT_EQ(reader.tensor("empty").sizes(), (at::IntArrayRef{3, 0}));
}

TEST(SafetensorsPython, ReadsFloat8AndWideUnsignedBytesExactly) {
  ScratchDir dir;
  const json spec = {{"tensors",
                      {arange_tensor("e4m3", "F8_E4M3", {8}), arange_tensor("e5m2", "F8_E5M2", {8}),
                       arange_tensor("u16", "U16", {3}, 65533), arange_tensor("u32", "U32", {1}, 4294967295u),
                       arange_tensor("u64", "U64", {1}, 1)}}};
  const fs::path path = write_with_python(dir, spec, "f8.safetensors");
  SafetensorsReader reader(path);

  // 0..7 encoded by hand. E4M3: sign, 4 exponent bits (bias 7), 3 mantissa bits; 1 = 0 0111 000 = 0x38,
  // 3 = 1.5 * 2^1 = 0 1000 100 = 0x44. E5M2: bias 15, 2 mantissa bits; 1 = 0 01111 00 = 0x3c, 3 = 0x42.
  EXPECT_EQ(raw(reader, "e4m3"), std::string("\x00\x38\x40\x44\x48\x4a\x4c\x4e", 8));
  EXPECT_EQ(raw(reader, "e5m2"), std::string("\x00\x3c\x40\x42\x44\x45\x46\x47", 8));
  // 65533, 65534, 65535 little-endian; 2^32 - 1; 1.
  EXPECT_EQ(raw(reader, "u16"), std::string("\xfd\xff\xfe\xff\xff\xff", 6));
  EXPECT_EQ(raw(reader, "u32"), std::string("\xff\xff\xff\xff", 4));
  EXPECT_EQ(raw(reader, "u64"), std::string("\x01\x00\x00\x00\x00\x00\x00\x00", 8));
  for (const char* name : {"e4m3", "e5m2", "u16", "u32", "u64"}) {
    EXPECT_THROW(reader.tensor(name), Error) << name;
  }
}

TEST(SafetensorsPython, ReadsUnpaddedHeaderWithUnalignedTensors) {
  ScratchDir dir;
  json spec = {
      {"header_alignment", 1},
      {"tensors",
       {arange_tensor("odd", "I8", {3}), arange_tensor("f64", "F64", {4}, -2), arange_tensor("f32", "F32", {3}, 10)}}};
  const fs::path path = write_with_python(dir, spec, "unaligned.safetensors");
  SafetensorsReader reader(path);
  EXPECT_TRUE(at::equal(reader.tensor("f64"), at::arange(-2, 2, at::kDouble)));
  EXPECT_TRUE(at::equal(reader.tensor("f32"), at::arange(10, 13, at::kFloat)));
  EXPECT_TRUE(at::equal(reader.tensor("odd"), at::arange(0, 3, at::kChar)));
}

TEST(SafetensorsPython, PythonReadsWhatLadleWrites) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, at::ScalarType>> dtypes = {
      {"U8", at::kByte},  {"I8", at::kChar},       {"I16", at::kShort}, {"I32", at::kInt},   {"I64", at::kLong},
      {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"F32", at::kFloat}, {"F64", at::kDouble}};
  NamedTensors tensors;
  json spec = {{"metadata", {{"format", "pt"}, {"by", "ladle"}}}, {"tensors", json::array()}};
  for (const auto& [dtype, type] : dtypes) {
    const std::int64_t start = type == at::kByte ? 0 : -5;
    tensors.insert("t." + dtype, at::arange(start, start + 12, at::kLong).to(type).reshape({3, 4}));
    spec["tensors"].push_back(arange_tensor("t." + dtype, dtype, {3, 4}, start));
  }
  tensors.insert("flags", at::arange(5, at::kLong).remainder(2).to(at::kBool));
  spec["tensors"].push_back(arange_tensor("flags", "BOOL", {5}));
  tensors.insert("scalar", at::scalar_tensor(7.0, at::kFloat));
  spec["tensors"].push_back(arange_tensor("scalar", "F32", {}, 7));
  tensors.insert("empty", at::empty({0, 2}, at::kHalf));
  spec["tensors"].push_back(arange_tensor("empty", "F16", {0, 2}));

  write_safetensors(dir.path / "ours.safetensors", tensors, {{"format", "pt"}, {"by", "ladle"}});
  const fs::path spec_path = dir.path / "expected.json";
  std::ofstream(spec_path) << spec.dump();
  run_tool("check", dir.path / "ours.safetensors", spec_path);
}

}  // namespace
}  // namespace ladle::io
