#include "lib/util/progress_line.h"

#include <gtest/gtest.h>

namespace ladle {

TEST(ProgressLine, RendersDoneTotalAndPercentage) {
  ProgressLine progress("work", 40, ProgressOptions{});
  progress.advance(12);
  const std::string line = progress.render();
  EXPECT_NE(line.find("12/40 (30.0%)"), std::string::npos) << line;
  EXPECT_NE(line.find("it/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA"), std::string::npos) << line;
}

TEST(ProgressLine, BytesAreShownInBinaryUnits) {
  ProgressOptions options;
  options.unit = ProgressUnit::bytes;
  ProgressLine progress("copy", 4096, options);
  progress.advance(2048);
  const std::string line = progress.render();
  EXPECT_NE(line.find("2.0 KiB/4.0 KiB (50.0%)"), std::string::npos) << line;
}

TEST(ProgressLine, NoEtaOnceComplete) {
  ProgressLine progress("work", 3, ProgressOptions{});
  progress.advance(3);
  EXPECT_EQ(progress.render().find("ETA"), std::string::npos);
}

TEST(ProgressLine, StatusIsAppended) {
  ProgressLine progress("train", 10, ProgressOptions{});
  progress.set_status("loss 2.314");
  EXPECT_NE(progress.render().find("loss 2.314"), std::string::npos);
}

}  // namespace ladle
