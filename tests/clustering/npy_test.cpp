// .npy files: ladle's writer and reader against each other and against NumPy itself, and hostile files rejected.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "clustering/npy.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::clustering {
namespace {

namespace fs = std::filesystem;
using ladle::testing::python_program;
using ladle::testing::run_command;

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("npy"); }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs Python code with numpy imported as np; fails the test on a non-zero exit. Returns stdout.
  std::string python(const std::string& code) {
    const auto result = run_command(python_program(), {"-c", "import numpy as np\n" + code});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
  }

  // A file of these exact bytes.
  fs::path raw_file(const std::string& bytes) {
    const fs::path path = dir_ / "raw.npy";
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  // A version 1.0 file with this header dict (padded like NumPy's) followed by `data`.
  fs::path file_with_header(const std::string& dict, const std::string& data) {
    std::string header = dict;
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    return raw_file(bytes + header + data);
  }

  std::string error_of(const fs::path& path) {
    try {
      read_npy(path);
    } catch (const Error& error) {
      return error.what();
    }
    ADD_FAILURE() << "read_npy accepted " << path;
    return "";
  }

  fs::path dir_;
};

FloatMatrix sample_matrix() {
  FloatMatrix matrix(3, 2);
  matrix.values = {1.5f, -2.0f, 0.25f, 1e-8f, 3.0e7f, -0.0f};
  return matrix;
}

TEST_F(NpyTest, RoundTripKeepsShapeAndValues) {
  const FloatMatrix matrix = sample_matrix();
  write_npy(dir_ / "m.npy", matrix);
  const FloatMatrix read = read_npy(dir_ / "m.npy");
  EXPECT_EQ(read.rows, 3);
  EXPECT_EQ(read.cols, 2);
  EXPECT_EQ(read.values, matrix.values);
}

TEST_F(NpyTest, WrittenFileLoadsInNumPyWithAlignedData) {
  write_npy(dir_ / "m.npy", sample_matrix());
  const std::string out = python(
      "import numpy.lib.format as f\n"
      "a = np.load('" +
      (dir_ / "m.npy").string() +
      "')\n"
      "print(a.dtype, a.shape, a.tolist())\n"
      "with open('" +
      (dir_ / "m.npy").string() +
      "', 'rb') as h:\n"
      "    f.read_magic(h); f.read_array_header_1_0(h); print(h.tell() % 64)\n");
  EXPECT_EQ(out, "float32 (3, 2) [[1.5, -2.0], [0.25, 9.99999993922529e-09], [30000000.0, -0.0]]\n0\n");
}

TEST_F(NpyTest, ReadsFloat32FileWrittenByNumPy) {
  python("np.save('" + (dir_ / "a.npy").string() + "', np.arange(12, dtype=np.float32).reshape(4, 3) / 4)");
  const FloatMatrix read = read_npy(dir_ / "a.npy");
  ASSERT_EQ(read.rows, 4);
  ASSERT_EQ(read.cols, 3);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(read.values[i], static_cast<float>(i) / 4) << i;
}

TEST_F(NpyTest, ReadsBigEndianFloat64InFortranOrderFromNumPy) {
  python(
      "a = np.asfortranarray(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype='>f8'))\n"
      "np.save('" +
      (dir_ / "a.npy").string() + "', a)");
  const FloatMatrix read = read_npy(dir_ / "a.npy");
  ASSERT_EQ(read.rows, 2);
  ASSERT_EQ(read.cols, 3);
  EXPECT_EQ(read.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_F(NpyTest, ReadsVersion2HeaderFromNumPy) {
  python(
      "import numpy.lib.format as f\n"
      "with open('" +
      (dir_ / "a.npy").string() +
      "', 'wb') as h:\n"
      "    f.write_array(h, np.ones((2, 2), dtype=np.float32), version=(2, 0))");
  const FloatMatrix read = read_npy(dir_ / "a.npy");
  EXPECT_EQ(read.values, (std::vector<float>{1, 1, 1, 1}));
}

TEST_F(NpyTest, RejectsAFileWithoutTheMagic) {
  EXPECT_NE(error_of(raw_file("PK\x03\x04 this is a zip file")).find("not a .npy file"), std::string::npos);
}

TEST_F(NpyTest, RejectsAHeaderLengthPastTheEnd) {
  EXPECT_NE(error_of(raw_file(std::string("\x93NUMPY\x01\x00\xff\xff{}", 12))).find("runs past the end"),
            std::string::npos);
}

TEST_F(NpyTest, RejectsDataShorterThanTheShape) {
  const auto path =
      file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", std::string(12, 'x'));
  EXPECT_NE(error_of(path).find("does not match the 12 data bytes"), std::string::npos);
}

TEST_F(NpyTest, RejectsAShapeWhoseSizeOverflows) {
  const auto path = file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }",
                                     std::string(16, 'x'));
  EXPECT_NE(error_of(path).find("does not match"), std::string::npos);
}

TEST_F(NpyTest, RejectsAOneDimensionalArray) {
  const auto path = file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", std::string(16, 'x'));
  EXPECT_NE(error_of(path).find("shape (4,) is not 2-D"), std::string::npos);
}

TEST_F(NpyTest, RejectsAnIntegerDtype) {
  const auto path =
      file_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1), }", std::string(4, 'x'));
  EXPECT_NE(error_of(path).find("dtype '<i4' is not float32 or float64"), std::string::npos);
}

TEST_F(NpyTest, RejectsAnUnknownOrRepeatedKey) {
  const std::string data(4, 'x');
  EXPECT_NE(error_of(file_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'x': 1}", data))
                .find("unexpected key 'x'"),
            std::string::npos);
  EXPECT_NE(
      error_of(file_with_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}", data))
          .find("appears twice"),
      std::string::npos);
}

TEST_F(NpyTest, RejectsAHeaderMissingAKey) {
  const auto path = file_with_header("{'descr': '<f4', 'shape': (1, 1), }", std::string(4, 'x'));
  EXPECT_NE(error_of(path).find("missing key 'fortran_order'"), std::string::npos);
}

}  // namespace
}  // namespace ladle::clustering
