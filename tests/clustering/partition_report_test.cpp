// The partition report: label agreement, task histograms, listed records, and its Markdown rendering.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "clustering/partition_report.h"
#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

text::InstructionRecord record(const std::string& instruction, const std::string& response, const std::string& task,
                               std::size_t line) {
  text::InstructionRecord result;
  result.messages = {{text::ChatRole::user, instruction}, {text::ChatRole::assistant, response}};
  result.task = task;
  result.line = line;
  return result;
}

Partition partition_of(std::vector<std::int64_t> assignments, std::int64_t k, std::vector<float> distances = {}) {
  Partition partition;
  partition.method = "kmeans";
  partition.k = k;
  partition.sizes = cluster_sizes(assignments, k);
  partition.assignments = std::move(assignments);
  partition.distances = std::move(distances);
  return partition;
}

TEST(PartitionReport, SplitByTaskHasPurityAndNmiOneAndOneTaskPerCluster) {
  const std::vector<text::InstructionRecord> records = {record("1+1", "2", "math", 1), record("2+2", "4", "math", 2),
                                                        record("Capital of France?", "Paris", "geo", 3)};
  const auto report = partition_report(partition_of({1, 1, 0}, 2), records);
  EXPECT_DOUBLE_EQ(report["labels"]["purity"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(report["labels"]["nmi"].get<double>(), 1.0);
  EXPECT_EQ(report["labels"]["tasks"], 2);
  EXPECT_EQ(report["clusters"][1]["tasks"], nlohmann::json::parse(R"([{"task": "math", "count": 2}])"));
  EXPECT_EQ(report["clusters"][0]["size"], 1);
}

TEST(PartitionReport, RecordsWithoutTasksHaveNoLabelAgreement) {
  const auto report = partition_report(partition_of({0, 1}, 2), {record("a", "b", "", 1), record("c", "d", "", 2)});
  EXPECT_TRUE(report["labels"].is_null());
}

TEST(PartitionReport, ListsTheRecordsNearestTheCentroidFirst) {
  const std::vector<text::InstructionRecord> records = {record("far", "x", "t", 1), record("nearest", "x", "t", 2),
                                                        record("middle", "x", "t", 3)};
  ReportOptions options;
  options.nearest_examples = 2;
  const auto report = partition_report(partition_of({0, 0, 0}, 1, {0.5f, 0.1f, 0.3f}), records, {}, options);
  const auto& examples = report["clusters"][0]["examples"];
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0]["instruction"], "nearest");
  EXPECT_EQ(examples[1]["instruction"], "middle");
  EXPECT_EQ(examples[1]["line"], 3);
}

TEST(PartitionReport, LongTextIsCutAtACharacterBoundary) {
  ReportOptions options;
  options.text_chars = 3;
  const auto report = partition_report(partition_of({0}, 1, {0.0f}), {record("ééééé", "ok", "t", 1)}, {}, options);
  EXPECT_EQ(report["clusters"][0]["examples"][0]["instruction"], "ééé…");
  EXPECT_EQ(report["clusters"][0]["examples"][0]["response"], "ok");
}

TEST(PartitionReport, MarkdownHasTheTaskTableAndEmptyClusters) {
  const auto report =
      partition_report(partition_of({0, 0, 2}, 3, {0.0f, 0.0f, 0.0f}),
                       {record("a", "b", "math", 1), record("c", "d", "math", 2), record("e", "f", "g|eo", 3)});
  const std::string markdown = report_markdown(report);
  EXPECT_NE(markdown.find("| math | 2 | 0 | 0 |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| g\\|eo | 0 | 0 | 1 |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("Empty clusters: [1]"), std::string::npos) << markdown;
}

TEST(PartitionReport, RecordCountMustMatchThePartition) {
  EXPECT_THROW(partition_report(partition_of({0, 0}, 1), {record("a", "b", "t", 1)}), Error);
}

}  // namespace
}  // namespace ladle::clustering
