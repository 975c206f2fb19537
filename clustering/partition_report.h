// The report of a partition of instruction records: cluster sizes, agreement with the records' task labels
// (purity, NMI), the task histogram of each cluster and the records nearest each centroid, as report.json and a
// readable report.md rendered from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustering/partition.h"
#include "lib/text/instruction_record.h"

namespace ladle::clustering {

struct ReportOptions {
  std::int64_t nearest_examples = 3;  // records listed per cluster, nearest its centroid first
  std::size_t text_chars = 120;       // a listed record's instruction and response are cut to this many characters
};

// The report as JSON: method, points, k, the caller's settings (e.g. the command line's), sizes, empty clusters,
// inertia (with distances), "labels" {records_with_task, tasks, purity, nmi} over the records that have a task
// (when any has), and per cluster its size, task histogram (most common first) and nearest records (with
// distances). `records` is empty or holds the partitioned records in point order. Throws ladle::Error when the
// records and the partition differ in number.
nlohmann::json partition_report(const Partition& partition, const std::vector<text::InstructionRecord>& records,
                                const nlohmann::json& settings = nlohmann::json::object(),
                                const ReportOptions& options = {});

// report.md's text for a report made by partition_report.
std::string report_markdown(const nlohmann::json& report);

// Writes report.json and report.md into `directory` (each atomically).
void write_report(const std::filesystem::path& directory, const nlohmann::json& report);

}  // namespace ladle::clustering
