// io::read_text_file: a whole file's bytes, with a size limit and errors that name the file and the problem.
#include "lib/io/text_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "lib/util/error.h"
#include "lib/util/string_affixes.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;
using ladle::testing::contains;
using ladle::testing::error_message;

class TextFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("text-file"); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file(const std::string& name, const std::string& text) {
    return ladle::testing::write_text_file(dir_ / name, text);
  }

  fs::path dir_;
};

TEST_F(TextFileTest, ReturnsTheBytesUnchanged) {
  const std::string bytes("a\r\nb\0c\xff", 7);
  EXPECT_EQ(read_text_file(file("bytes", bytes), 7), bytes);
  EXPECT_EQ(read_text_file(file("empty", ""), 0), "");
}

// kNoSizeLimit is the largest limit there is: one byte past it cannot be represented, so the reader must not add one.
TEST_F(TextFileTest, NoSizeLimitReadsTheWholeFile) {
  const std::string text(200'000, 'x');  // several read chunks
  EXPECT_EQ(read_text_file(file("large", text), kNoSizeLimit), text);
}

TEST_F(TextFileTest, OneByteOverTheLimitIsAnErrorWithBothSizes) {
  const fs::path path = file("five", "12345");
  EXPECT_EQ(read_text_file(path, 5), "12345");
  const std::string message = error_message([&] { read_text_file(path, 4); });
  EXPECT_TRUE(contains(message, path.string() + ": too large: 5 bytes")) << message;
  EXPECT_TRUE(contains(message, "at most 4")) << message;
}

// Files under /proc report size 0 and still have contents: the limit holds while reading.
TEST_F(TextFileTest, FileWithoutAStatSizeIsBoundedWhileReading) {
  EXPECT_TRUE(starts_with(read_text_file("/proc/self/status", kNoSizeLimit), "Name:"));
  const std::string message = error_message([&] { read_text_file("/proc/self/status", 8); });
  EXPECT_TRUE(contains(message, "/proc/self/status: too large: more than 8 bytes")) << message;
}

TEST_F(TextFileTest, MissingFileIsNamed) {
  const std::string message = error_message([&] { read_text_file(dir_ / "absent.json", 100); });
  EXPECT_EQ(message, (dir_ / "absent.json").string() + ": no such file");
}

TEST_F(TextFileTest, DirectoryIsNamed) {
  const std::string message = error_message([&] { read_text_file(dir_, 100); });
  EXPECT_EQ(message, dir_.string() + ": is a directory, not a file");
}

}  // namespace
}  // namespace ladle::io
