// write_fully_at (lib/io/positioned_write.h): the bytes land at their offset, a failing write reports its errno
// without retry, and a retry callback that fixes the cause gets the same write done (the path AlignedBlockWriter
// takes when a file system refuses direct I/O, which no file system here does on demand).
#include "lib/io/positioned_write.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"

namespace ladle::io {
namespace {

using ladle::testing::read_text_file;

class PositionedWriteTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("positioned-write"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(PositionedWriteTest, WritesTheBytesAtTheirOffset) {
  const std::string path = dir_ + "/out.bin";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(write_fully_at(fd, "world", 5, 6), 0);
  EXPECT_EQ(write_fully_at(fd, "hello ", 6, 0), 0);
  ::close(fd);
  EXPECT_EQ(read_text_file(path), "hello world");
}

TEST_F(PositionedWriteTest, AFailedWriteReturnsItsErrnoAfterOfferingARetry) {
  const std::string path = dir_ + "/read-only.bin";
  std::ofstream(path) << "x";
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(write_fully_at(fd, "abc", 3, 0), EBADF);
  int offered = 0;
  EXPECT_EQ(write_fully_at(fd, "abc", 3, 0, [&](int error) {
              EXPECT_EQ(error, EBADF);
              ++offered;
              return false;
            }),
            EBADF);
  EXPECT_EQ(offered, 1);
  ::close(fd);
}

// The retry makes the descriptor writable (as leave_direct_io clears O_DIRECT) and the same write then succeeds.
TEST_F(PositionedWriteTest, ARetryThatFixesTheCauseCompletesTheWrite) {
  const std::string path = dir_ + "/fixed.bin";
  std::ofstream(path) << "......";
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  int offered = 0;
  const int result = write_fully_at(fd, "abc", 3, 2, [&](int) {
    ++offered;
    const int writable = ::open(path.c_str(), O_WRONLY);
    const bool replaced = writable >= 0 && ::dup2(writable, fd) == fd;
    if (writable >= 0) ::close(writable);
    return replaced;
  });
  EXPECT_EQ(result, 0);
  EXPECT_EQ(offered, 1);
  ::close(fd);
  EXPECT_EQ(read_text_file(path), "..abc.");
}

}  // namespace
}  // namespace ladle::io
