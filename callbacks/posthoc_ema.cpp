#include "callbacks/posthoc_ema.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "callbacks/power_ema.h"
#include "lib/config/value_range.h"
#include "lib/util/error.h"

namespace ladle::callbacks {
namespace {

PosthocSnapshot read_record(const std::filesystem::path& record) {
  std::ifstream in(record);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& error) {
    throw Error(record.string() + ": not a post-hoc EMA snapshot record (" + error.what() + ")");
  }
  const auto step = json.find("step");
  const auto gamma = json.find("gamma");
  if (!json.is_object() || step == json.end() || !step->is_number_integer() || step->get<std::int64_t>() < 1 ||
      gamma == json.end() || !gamma->is_number() || !(gamma->get<double>() > -1.0)) {
    throw Error(record.string() + ": expected {\"step\": an integer >= 1, \"gamma\": a number > -1}, got " +
                json.dump());
  }
  std::filesystem::path folder = record;
  folder.replace_extension();
  return {folder, step->get<std::int64_t>(), gamma->get<double>()};
}

}  // namespace

std::filesystem::path posthoc_snapshot_folder(const std::filesystem::path& posthoc_dir, std::int64_t step,
                                              double sigma_rel) {
  std::ostringstream name;
  name << "step-" << std::setw(8) << std::setfill('0') << step << "-sigma_rel-" << config::number_text(sigma_rel);
  return posthoc_dir / name.str();
}

std::filesystem::path posthoc_record_path(const std::filesystem::path& snapshot_folder) {
  return snapshot_folder.string() + ".json";
}

std::vector<PosthocSnapshot> find_posthoc_snapshots(const std::filesystem::path& run_dir) {
  const std::filesystem::path directory = run_dir / "posthoc";
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) {
    throw Error(run_dir.string() + " has no posthoc/ folder: train with averaging.posthoc to take EMA snapshots");
  }
  std::vector<PosthocSnapshot> snapshots;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != ".json" || path.filename().string().rfind("step-", 0) != 0) continue;
    PosthocSnapshot snapshot = read_record(path);
    if (!std::filesystem::is_directory(snapshot.folder, error)) {
      throw Error(path.string() + ": its snapshot folder " + snapshot.folder.string() + " is missing");
    }
    snapshots.push_back(std::move(snapshot));
  }
  if (snapshots.empty()) throw Error(directory.string() + " holds no snapshot (no step-*.json record)");
  std::sort(snapshots.begin(), snapshots.end(), [](const PosthocSnapshot& a, const PosthocSnapshot& b) {
    return a.step != b.step ? a.step < b.step : a.gamma < b.gamma;
  });
  return snapshots;
}

std::vector<double> posthoc_ema_coefficients(const std::vector<PosthocSnapshot>& snapshots, double gamma,
                                             std::int64_t step) {
  if (snapshots.empty()) throw Error("post-hoc EMA: no snapshots to reconstruct from");
  if (step < 1) throw Error("post-hoc EMA: the target step is " + std::to_string(step) + ", expected >= 1");
  const auto n = static_cast<std::int64_t>(snapshots.size());
  at::Tensor gram = at::empty({n, n}, at::kDouble);
  at::Tensor target = at::empty({n, 1}, at::kDouble);
  auto a = gram.accessor<double, 2>();
  auto b = target.accessor<double, 2>();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto& p = snapshots[i];
    for (std::int64_t j = 0; j < n; ++j) {
      a[i][j] = power_profile_inner_product(p.step, p.gamma, snapshots[j].step, snapshots[j].gamma);
    }
    b[i][0] = power_profile_inner_product(p.step, p.gamma, static_cast<double>(step), gamma);
  }
  const at::Tensor solution = std::get<0>(at::linalg_lstsq(gram, target, c10::nullopt, "gelsd"));
  std::vector<double> weights(n);
  for (std::int64_t i = 0; i < n; ++i) weights[i] = solution[i][0].item<double>();
  return weights;
}

}  // namespace ladle::callbacks
