#include "clustering/partition_report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "clustering/embedder.h"
#include "clustering/label_agreement.h"
#include "lib/io/atomic_file.h"
#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

// The text cut to at most `chars` UTF-8 characters (never inside one), with "…" when something was cut.
std::string truncate_utf8(const std::string& text, std::size_t chars) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (count++ == chars) return text.substr(0, i) + "…";
  }
  return text;
}

// Task names and counts of a cluster, the most common first (ties by name).
nlohmann::json task_histogram(const std::map<std::string, std::int64_t>& counts) {
  std::vector<std::pair<std::string, std::int64_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  nlohmann::json histogram = nlohmann::json::array();
  for (const auto& [task, count] : sorted) histogram.push_back({{"task", task}, {"count", count}});
  return histogram;
}

nlohmann::json label_agreement(const Partition& partition, const std::vector<text::InstructionRecord>& records) {
  std::vector<std::int64_t> clusters;
  std::vector<std::string> tasks;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].task.empty()) continue;
    clusters.push_back(partition.assignments[i]);
    tasks.push_back(records[i].task);
  }
  if (tasks.empty()) return nullptr;
  const auto labels = label_ids(tasks);
  return {{"records_with_task", tasks.size()},
          {"tasks", *std::max_element(labels.begin(), labels.end()) + 1},
          {"purity", purity(clusters, labels)},
          {"nmi", normalized_mutual_information(clusters, labels)}};
}

// The records listed for each cluster: nearest the centroid first when there are distances, else in order.
std::vector<std::vector<std::size_t>> listed_records(const Partition& partition, std::int64_t per_cluster) {
  std::vector<std::vector<std::size_t>> members(static_cast<std::size_t>(partition.k));
  for (std::size_t i = 0; i < partition.assignments.size(); ++i) {
    members[static_cast<std::size_t>(partition.assignments[i])].push_back(i);
  }
  for (auto& list : members) {
    const auto keep = std::min(list.size(), static_cast<std::size_t>(std::max<std::int64_t>(per_cluster, 0)));
    if (!partition.distances.empty()) {
      std::partial_sort(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(keep), list.end(),
                        [&](std::size_t a, std::size_t b) { return partition.distances[a] < partition.distances[b]; });
    }
    list.resize(keep);
  }
  return members;
}

std::string number(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// Text for one Markdown table cell or list item: one line, no unescaped '|'.
std::string markdown_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (c == '|') {
      out += "\\|";
    } else {
      out += c;
    }
  }
  return out;
}

std::string value_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

nlohmann::json partition_report(const Partition& partition, const std::vector<text::InstructionRecord>& records,
                                const nlohmann::json& settings, const ReportOptions& options) {
  const std::size_t n = partition.assignments.size();
  if (!records.empty() && records.size() != n) {
    throw Error("report: " + std::to_string(records.size()) + " records for a partition of " + std::to_string(n) +
                " points");
  }
  nlohmann::json report = {{"method", partition.method},
                           {"points", n},
                           {"k", partition.k},
                           {"settings", settings},
                           {"sizes", partition.sizes},
                           {"empty_clusters", empty_clusters(partition)},
                           {"examples_are_nearest", !partition.distances.empty()}};
  if (!partition.distances.empty()) report["inertia"] = partition.inertia;
  report["labels"] = label_agreement(partition, records);

  std::vector<std::map<std::string, std::int64_t>> task_counts(static_cast<std::size_t>(partition.k));
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (!records[i].task.empty()) ++task_counts[static_cast<std::size_t>(partition.assignments[i])][records[i].task];
  }
  const auto listed = listed_records(partition, records.empty() ? 0 : options.nearest_examples);
  report["clusters"] = nlohmann::json::array();
  for (std::int64_t c = 0; c < partition.k; ++c) {
    const auto u = static_cast<std::size_t>(c);
    nlohmann::json examples = nlohmann::json::array();
    for (std::size_t i : listed[u]) {
      nlohmann::json example = {
          {"index", i},
          {"line", records[i].line},
          {"task", records[i].task},
          {"instruction", truncate_utf8(embedding_text(records[i], EmbedText::instruction), options.text_chars)},
          {"response", truncate_utf8(embedding_text(records[i], EmbedText::response), options.text_chars)}};
      if (!partition.distances.empty()) example["distance"] = partition.distances[i];
      examples.push_back(example);
    }
    report["clusters"].push_back({{"cluster", c},
                                  {"size", partition.sizes[u]},
                                  {"tasks", task_histogram(task_counts[u])},
                                  {"examples", examples}});
  }
  return report;
}

std::string report_markdown(const nlohmann::json& report) {
  std::ostringstream md;
  const auto points = report.at("points").get<std::int64_t>();
  const auto k = report.at("k").get<std::int64_t>();
  md << "# Clustering report\n\n";
  md << (report.at("method") == "random" ? "Random split" : "k-means partition") << " of " << points << " records into "
     << k << " clusters.\n\n";
  if (!report.at("settings").empty()) {
    for (const auto& [key, value] : report.at("settings").items())
      md << "- " << key << ": " << value_text(value) << "\n";
    md << "\n";
  }

  md << "| cluster | records | share |\n|---:|---:|---:|\n";
  for (const auto& cluster : report.at("clusters")) {
    const auto size = cluster.at("size").get<std::int64_t>();
    md << "| " << cluster.at("cluster") << " | " << size << " | "
       << number(points > 0 ? 100.0 * static_cast<double>(size) / static_cast<double>(points) : 0.0, 1) << "% |\n";
  }
  md << "\n";
  if (!report.at("empty_clusters").empty()) {
    md << "**Empty clusters: " << report.at("empty_clusters").dump()
       << "** (the points have fewer distinct values than k, or k is close to their number).\n\n";
  }
  if (report.contains("inertia"))
    md << "Inertia (sum of squared distances to the centroids): " << number(report.at("inertia").get<double>(), 4)
       << "\n\n";

  const auto& labels = report.at("labels");
  if (!labels.is_null()) {
    md << "## Agreement with the task labels\n\n";
    md << "Over " << labels.at("records_with_task") << " records with a task (" << labels.at("tasks")
       << " tasks): purity " << number(labels.at("purity").get<double>(), 4) << ", NMI "
       << number(labels.at("nmi").get<double>(), 4) << ".\n\n";
    std::map<std::string, std::vector<std::int64_t>> table;
    for (const auto& cluster : report.at("clusters")) {
      for (const auto& entry : cluster.at("tasks")) {
        auto& row = table[entry.at("task").get<std::string>()];
        row.resize(static_cast<std::size_t>(k), 0);
        row[cluster.at("cluster").get<std::size_t>()] = entry.at("count").get<std::int64_t>();
      }
    }
    md << "| task |";
    for (std::int64_t c = 0; c < k; ++c) md << " " << c << " |";
    md << "\n|---|";
    for (std::int64_t c = 0; c < k; ++c) md << "---:|";
    md << "\n";
    for (const auto& [task, counts] : table) {
      md << "| " << markdown_text(task) << " |";
      for (auto count : counts) md << " " << count << " |";
      md << "\n";
    }
    md << "\n";
  }

  const bool nearest = report.at("examples_are_nearest").get<bool>();
  for (const auto& cluster : report.at("clusters")) {
    if (cluster.at("examples").empty()) continue;
    md << "## Cluster " << cluster.at("cluster") << ": " << (nearest ? "records nearest the centroid" : "first records")
       << "\n\n";
    for (const auto& example : cluster.at("examples")) {
      md << "- line " << example.at("line");
      if (!example.at("task").get<std::string>().empty()) md << ", " << markdown_text(example.at("task"));
      if (example.contains("distance")) md << ", distance " << number(example.at("distance").get<double>(), 4);
      md << ": " << markdown_text(example.at("instruction")) << " → " << markdown_text(example.at("response")) << "\n";
    }
    md << "\n";
  }
  return md.str();
}

void write_report(const std::filesystem::path& directory, const nlohmann::json& report) {
  io::write_file_atomically(directory / "report.json", report.dump(2) + "\n");
  io::write_file_atomically(directory / "report.md", report_markdown(report));
}

}  // namespace ladle::clustering
