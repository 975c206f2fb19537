// `cluster.balanced: true` in a DTM config: the k-means split of the 24 tiny records into K = 3 and K = 5 has sizes
// floor(24/K) or ceil(24/K), and the random split the same sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "tests/pipelines/dtm/dtm_fixture.h"
#include "tests/support/test_helpers.h"

namespace ladle::dtm {
namespace {

TEST(DtmBalancedClusters, EveryClusterHoldsAnEqualShareOfTheRecords) {
  const DtmFixture fixture("dtm-balanced", "{vanilla: false, random_split: true, uniform_soup: false}");
  std::string text = ladle::testing::read_text_file(fixture.dir / "dtm.yml");
  text.replace(text.find("cluster: {k: 2,"), 15, "cluster: {k: [3, 5], balanced: true,");
  std::ofstream(fixture.dir / "dtm.yml") << text;
  const auto result = fixture.dtm({"--until", "cluster"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const int k : {3, 5}) {
    for (const std::string split : {"kmeans", "random"}) {
      std::vector<std::size_t> sizes;
      for (int c = 0; c < k; ++c) {
        sizes.push_back(line_count(fixture.out("cluster-k" + std::to_string(k) + "/" + split + "/cluster-" +
                                               std::to_string(c) + ".jsonl")));
      }
      const auto [smallest, largest] = std::minmax_element(sizes.begin(), sizes.end());
      EXPECT_EQ(*smallest, 24u / k) << split << " k = " << k;
      EXPECT_LE(*largest - *smallest, 1u) << split << " k = " << k;
    }
  }
}

}  // namespace
}  // namespace ladle::dtm
