// Random splits, mean centroids, and the partition files written and read back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "clustering/partition.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::clustering {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Three points on a line: {0, 2} in cluster 0 and {10} in cluster 1, with mean centroids.
Partition small_partition() {
  Partition partition;
  partition.method = "kmeans";
  partition.k = 2;
  partition.assignments = {0, 1, 0};
  partition.sizes = {2, 1};
  FloatMatrix points(3, 1);
  points.values = {0.0f, 10.0f, 2.0f};
  set_mean_centroids(partition, points);
  return partition;
}

class PartitionFilesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("partition"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string error_reading() {
    try {
      read_partition(dir_);
    } catch (const Error& error) {
      return error.what();
    }
    ADD_FAILURE() << "read_partition accepted the folder";
    return "";
  }

  fs::path dir_;
};

TEST(RandomPartition, HasExactlyTheRequestedSizes) {
  const Partition partition = random_partition({7, 0, 3, 5}, 11);
  EXPECT_EQ(partition.k, 4);
  EXPECT_EQ(partition.assignments.size(), 15u);
  EXPECT_EQ(cluster_sizes(partition.assignments, 4), (std::vector<std::int64_t>{7, 0, 3, 5}));
  EXPECT_EQ(partition.method, "random");
}

TEST(RandomPartition, SameSeedSameSplitOtherSeedOtherSplit) {
  EXPECT_EQ(random_partition({50, 50}, 3).assignments, random_partition({50, 50}, 3).assignments);
  EXPECT_NE(random_partition({50, 50}, 3).assignments, random_partition({50, 50}, 4).assignments);
}

TEST(RandomPartition, NegativeSizeIsAnError) { EXPECT_THROW(random_partition({3, -1}, 1), Error); }

TEST(Partition, MeanCentroidsAreClusterMeansAndDistancesSquared) {
  const Partition partition = small_partition();
  EXPECT_EQ(partition.centroids.values, (std::vector<float>{1.0f, 10.0f}));
  EXPECT_EQ(partition.distances, (std::vector<float>{1.0f, 0.0f, 1.0f}));
  EXPECT_DOUBLE_EQ(partition.inertia, 2.0);
}

TEST(Partition, ClusterSizesRejectAnAssignmentOutOfRange) { EXPECT_THROW(cluster_sizes({0, 2}, 2), Error); }

TEST_F(PartitionFilesTest, AssignmentsFileHasOneLinePerPointWithTaskAndDistance) {
  write_partition(dir_, small_partition(), {"math", "", "geo\"graphy"});
  EXPECT_EQ(read_text(dir_ / kAssignmentsFile),
            "{\"index\": 0, \"cluster\": 0, \"task\": \"math\", \"distance\": 1}\n"
            "{\"index\": 1, \"cluster\": 1, \"distance\": 0}\n"
            "{\"index\": 2, \"cluster\": 0, \"task\": \"geo\\\"graphy\", \"distance\": 1}\n");
  const auto sizes = nlohmann::json::parse(read_text(dir_ / kSizesFile));
  EXPECT_EQ(sizes["sizes"], nlohmann::json({2, 1}));
  EXPECT_EQ(sizes["points"], 3);
}

TEST_F(PartitionFilesTest, WrittenPartitionReadsBack) {
  const Partition written = small_partition();
  write_partition(dir_, written);
  const Partition read = read_partition(dir_);
  EXPECT_EQ(read.method, "kmeans");
  EXPECT_EQ(read.k, 2);
  EXPECT_EQ(read.assignments, written.assignments);
  EXPECT_EQ(read.sizes, written.sizes);
  EXPECT_EQ(read.distances, written.distances);
  EXPECT_EQ(read.centroids.values, written.centroids.values);
  EXPECT_DOUBLE_EQ(read.inertia, 2.0);
}

TEST_F(PartitionFilesTest, ReadingRejectsPointsOutOfOrder) {
  write_partition(dir_, small_partition());
  std::ofstream(dir_ / kAssignmentsFile) << "{\"index\": 1, \"cluster\": 0, \"distance\": 1}\n";
  EXPECT_NE(error_reading().find("assignments.jsonl:1: index 1 where 0 was expected"), std::string::npos);
}

TEST_F(PartitionFilesTest, ReadingRejectsAClusterOutsideK) {
  write_partition(dir_, small_partition());
  std::ofstream(dir_ / kAssignmentsFile) << "{\"index\": 0, \"cluster\": 2}\n{\"index\": 1, \"cluster\": 1}\n"
                                            "{\"index\": 2, \"cluster\": 0}\n";
  EXPECT_NE(error_reading().find("cluster 2 is outside [0, 2)"), std::string::npos);
}

TEST_F(PartitionFilesTest, ReadingRejectsSizesThatDisagreeWithTheAssignments) {
  write_partition(dir_, small_partition());
  std::ofstream(dir_ / kSizesFile) << R"({"method": "kmeans", "k": 2, "points": 3, "sizes": [1, 2], "inertia": 2})";
  EXPECT_NE(error_reading().find("'sizes' does not match"), std::string::npos);
}

}  // namespace
}  // namespace ladle::clustering
