#include "pipelines/dtm/dtm_runs.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <optional>

#include "lib/io/atomic_file.h"
#include "lib/io/json_member.h"
#include "lib/log/log.h"
#include "lib/util/error.h"
#include "trainer/checkpoint.h"
#include "pipelines/dtm/dtm_fingerprints.h"
#include "trainer/trainer.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;

// An exclusive flock(2) on a file, released when the object goes (or the process dies, so a killed job never
// leaves a stale lock behind).
class RunLock {
 public:
  explicit RunLock(const fs::path& path) {
    fs::create_directories(path.parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path.string() + ": cannot open the run's lock file: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    LADLE_LOG(info) << "waiting for " << path.string() << ": another ladle process trains this run";
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) throw Error(path.string() + ": cannot lock: " + std::strerror(errno));
    }
  }
  ~RunLock() { ::close(fd_); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// User and system CPU time of this process and all its threads so far.
double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

const char* run_family_name(RunFamily family) {
  switch (family) {
    case RunFamily::kmeans:
      return "kmeans";
    case RunFamily::random:
      return "random";
    case RunFamily::vanilla:
      return "vanilla";
    case RunFamily::soup:
      return "soup";
  }
  return "unknown";
}

std::vector<std::int64_t> steps_per_cluster(const std::vector<std::int64_t>& sizes, std::int64_t total) {
  const std::int64_t points = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
  if (points <= 0 || total <= 0) throw Error("DTM: no records or no steps to split among the clusters");
  const auto non_empty = std::count_if(sizes.begin(), sizes.end(), [](std::int64_t size) { return size > 0; });
  if (total < non_empty) {
    throw Error("DTM: " + std::to_string(total) + " steps cannot give each of the " + std::to_string(non_empty) +
                " non-empty clusters one");
  }
  // Hamilton's largest-remainder apportionment, in integers: every cluster gets the floor of its exact share,
  // and the steps left over go one each to the largest remainders (ties to the lower index).
  std::vector<std::int64_t> steps(sizes.size());
  std::vector<std::size_t> by_remainder(sizes.size());
  std::int64_t given = 0;
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    steps[c] = total * sizes[c] / points;
    given += steps[c];
    by_remainder[c] = c;
  }
  const auto remainder = [&](std::size_t c) { return total * sizes[c] % points; };
  std::stable_sort(by_remainder.begin(), by_remainder.end(),
                   [&](std::size_t a, std::size_t b) { return remainder(a) > remainder(b); });
  for (std::int64_t i = 0; i < total - given; ++i) ++steps[by_remainder[static_cast<std::size_t>(i)]];
  // A non-empty cluster whose share rounds to nothing still trains one step, taken from the largest allocation.
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    if (sizes[c] > 0 && steps[c] == 0) {
      --*std::max_element(steps.begin(), steps.end());
      steps[c] = 1;
    }
  }
  return steps;
}

std::vector<DtmRun> plan_runs(const DtmConfig& config, const DtmLayout& layout, const std::vector<std::int64_t>& sizes,
                              std::int64_t total_steps, std::uint64_t seed, std::uint64_t replicate,
                              bool with_vanilla) {
  const std::vector<std::int64_t> steps = steps_per_cluster(sizes, total_steps);
  const std::int64_t sum = std::accumulate(steps.begin(), steps.end(), std::int64_t{0});
  const auto k = static_cast<std::int64_t>(sizes.size());
  const std::int64_t name_k = config.cluster.name_k(k);
  // A replicate's runs take seeds from seed + replicate·k on: the k soup members of one replicate never share a
  // seed with another replicate's runs.
  seed += replicate * static_cast<std::uint64_t>(k);
  std::vector<DtmRun> runs;
  auto add_sub_models = [&](RunFamily family) {
    for (std::int64_t c = 0; c < k; ++c) {
      if (steps[c] == 0) continue;  // an empty cluster has nothing to train on
      const std::string method = run_family_name(family);
      runs.push_back({seeded_name(swept_name(method, name_k) + "-" + std::to_string(c), replicate), family, c,
                      layout.subset_file(method, c, replicate, name_k), steps[c], seed, replicate, k, {}});
    }
  };
  add_sub_models(RunFamily::kmeans);
  if (config.baselines.random_split) add_sub_models(RunFamily::random);
  if (config.baselines.vanilla && with_vanilla) {
    runs.push_back({seeded_name("vanilla", replicate), RunFamily::vanilla, 0, layout.records_file(), sum, seed,
                    replicate, 0, {}});
  }
  if (config.baselines.uniform_soup) {
    for (std::int64_t i = 0; i < k; ++i) {
      // Seeds seed, seed+1, ...: member 0 sees the data in vanilla's order, the others in their own.
      const std::int64_t member_steps = std::max<std::int64_t>(1, (sum + k - 1 - i) / k);  // Σ members = sum
      runs.push_back({seeded_name(swept_name("soup", name_k) + "-" + std::to_string(i), replicate), RunFamily::soup,
                      i, layout.records_file(), member_steps, seed + static_cast<std::uint64_t>(i), replicate, k,
                      {}});
    }
  }
  return runs;
}

trainer::TrainConfig run_train_config(const DtmConfig& config, const DtmLayout& layout, const DtmRun& run,
                             const std::vector<std::string>& extra) {
  std::vector<std::string> overrides = {
      "output_dir=" + nlohmann::json(layout.run_dir(run.name).string()).dump(),
      "data.train=" + nlohmann::json(fs::absolute(run.train_file).string()).dump(),
      "max_steps=" + std::to_string(run.steps),
      "seed=" + std::to_string(run.seed),
  };
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return config.train_config(overrides);
}

bool run_finished(const DtmLayout& layout, const DtmRun& run) {
  std::ifstream in(layout.run_done_file(run.name));
  if (!in) return false;
  const nlohmann::json done = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return io::json_member<std::string>(done, "fingerprint") == run.fingerprint;
}

bool train_run(const DtmConfig& config, const DtmLayout& layout, const DtmRun& run,
               const std::vector<std::string>& extra) {
  // Under torchrun every process of the run comes here; only the first takes the lock (the others would wait
  // for it forever, since it is held until the run they take part in ends).
  const char* rank = std::getenv("RANK");
  std::optional<RunLock> lock;
  if (rank == nullptr || std::string(rank) == "0") lock.emplace(layout.run_lock_file(run.name));
  if (run_finished(layout, run)) return false;
  const fs::path dir = layout.run_dir(run.name);
  if (lock && recorded_fingerprint(dir) != run.fingerprint) {
    // Trained (or started) under other settings: nothing of it may be reused (the first process of a torchrun
    // clears it).
    std::error_code error;
    if (fs::exists(dir, error)) {
      LADLE_LOG(info) << "run " << run.name << ": its settings changed; training afresh";
    }
    fs::remove_all(dir);
    record_fingerprint(dir, run.fingerprint);
  }
  const bool resume = !trainer::complete_checkpoints(trainer::checkpoints_dir(dir)).empty();
  std::vector<std::string> overrides = extra;
  // A fresh start replaces what an interrupted attempt left without a checkpoint (metrics.jsonl, a final/
  // written before the run was killed in its last callbacks): the folder belongs to this pipeline.
  if (!resume) overrides.push_back("overwrite_output_dir=true");
  trainer::TrainConfig train_config = run_train_config(config, layout, run, overrides);
  LADLE_LOG(info) << "run " << run.name << ": " << run.steps << " steps on " << run.train_file.string()
                  << (resume ? " (resuming from its latest checkpoint)" : "");
  const auto wall_start = std::chrono::steady_clock::now();
  const double cpu_start = process_cpu_seconds();
  trainer::Trainer trainer(std::move(train_config));
  const trainer::TrainResult result = trainer.train(resume ? std::optional<fs::path>(dir) : std::nullopt);
  if (!trainer.state().is_main_process()) return true;
  // This process's cost of the run (of its last attempt, when resumed): the report's compute comparison.
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const double cpu_seconds = process_cpu_seconds() - cpu_start;
  nlohmann::json done = {{"name", run.name},          {"family", run_family_name(run.family)},
                         {"index", run.index},        {"train_file", run.train_file.string()},
                         {"fingerprint", run.fingerprint},
                         {"steps", result.steps},     {"seed", run.seed},
                         {"train_seconds", seconds},  {"train_cpu_seconds", cpu_seconds},
                         {"resumed", resume},         {"final", result.final_model_dir.string()},
                         {"metrics", result.metrics}};
  io::write_file_atomically(layout.run_done_file(run.name), done.dump(2) + "\n");
  return true;
}

}  // namespace ladle::dtm
