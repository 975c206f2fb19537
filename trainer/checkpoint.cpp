#include "trainer/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "lib/io/atomic_file.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/io/checksum_manifest.h"
#include "lib/io/safetensors_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"
#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::trainer {
namespace {

constexpr const char* kStepPrefix = "step-";

// The step of a folder named exactly step-<digits>, or -1.
std::int64_t step_of(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  if (!starts_with(name, kStepPrefix) || name.size() == std::string(kStepPrefix).size()) return -1;
  const std::string digits = name.substr(std::string(kStepPrefix).size());
  if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoll(digits);
}

bool is_complete(const std::filesystem::path& path) {
  std::error_code error;
  return step_of(path) >= 0 && std::filesystem::is_regular_file(path / kTrainerStateFile, error);
}

}  // namespace

std::filesystem::path checkpoints_dir(const std::filesystem::path& output_dir) { return output_dir / "checkpoints"; }

std::filesystem::path checkpoint_path(const std::filesystem::path& output_dir, std::int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%08lld", kStepPrefix, static_cast<long long>(step));
  return checkpoints_dir(output_dir) / name;
}

std::vector<CheckpointInfo> complete_checkpoints(const std::filesystem::path& directory) {
  std::vector<CheckpointInfo> found;
  std::error_code error;
  if (!std::filesystem::is_directory(directory, error)) return found;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.is_directory() && is_complete(entry.path())) found.push_back({entry.path(), step_of(entry.path())});
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return found;
}

std::vector<std::filesystem::path> resume_candidates(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw Error("--resume " + path.string() + ": no such folder");
  if (is_complete(path)) return {path};
  for (const auto& directory : {path / "checkpoints", path}) {
    const auto found = complete_checkpoints(directory);
    std::vector<std::filesystem::path> newest_first;
    for (auto it = found.rbegin(); it != found.rend(); ++it) newest_first.push_back(it->path);
    if (!newest_first.empty()) return newest_first;
  }
  std::string leftovers;
  for (const auto& directory : {path / "checkpoints", path}) {
    if (!std::filesystem::is_directory(directory, error)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
      if (starts_with(entry.path().filename().string(), kStepPrefix) && !is_complete(entry.path())) {
        leftovers += (leftovers.empty() ? "" : ", ") + entry.path().filename().string();
      }
    }
  }
  throw Error("--resume " + path.string() + ": no complete checkpoint there or in its checkpoints/ folder" +
              (leftovers.empty() ? "" : " (incomplete, ignored: " + leftovers + ")"));
}

std::filesystem::path find_latest_checkpoint(const std::filesystem::path& path) {
  return resume_candidates(path).front();
}

bool checkpoint_passes_checksums(const std::filesystem::path& checkpoint, const std::string& use,
                                 std::string* problems) {
  const io::ChecksumVerification check = io::verify_checksum_manifest(checkpoint);
  if (!check.manifest_found) {
    LADLE_LOG(warning) << checkpoint.string() << ": has no " << io::kChecksumManifestFile
                       << " (written before checkpoints had one), so it cannot be verified; " << use;
    return true;
  }
  if (check.problems.empty()) return true;
  const std::string described = io::describe_problems(checkpoint, check.problems);
  LADLE_LOG(warning) << checkpoint.string() << ": does not match its checksums, passing it over:\n" << described;
  if (problems) *problems = described;
  return false;
}

std::filesystem::path find_checkpoint_to_resume(const std::filesystem::path& path) {
  std::string rejected;
  for (const auto& candidate : resume_candidates(path)) {
    std::string problems;
    if (checkpoint_passes_checksums(candidate, "resuming from it", &problems)) return candidate;
    rejected += (rejected.empty() ? "" : "; ") + problems;
  }
  throw Error("--resume " + path.string() + ": no checkpoint matches its checksums (" + rejected + ")");
}

void prune_checkpoints(const std::filesystem::path& output_dir, std::size_t keep_last) {
  if (keep_last == 0) return;
  const auto found = complete_checkpoints(checkpoints_dir(output_dir));
  for (std::size_t i = 0; i + keep_last < found.size(); ++i) {
    std::filesystem::remove_all(found[i].path);
    LADLE_LOG(debug) << "removed old checkpoint " << found[i].path.string();
  }
}

std::size_t remove_partial_checkpoints(const std::filesystem::path& output_dir) {
  std::size_t removed = 0;
  std::error_code error;
  const auto directory = checkpoints_dir(output_dir);
  if (!std::filesystem::is_directory(directory, error)) return 0;
  std::vector<std::filesystem::path> partial;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().filename().string().find(".partial-") != std::string::npos) partial.push_back(entry.path());
  }
  for (const auto& path : partial) {
    LADLE_LOG(warning) << "removing " << path.string() << ", left by an interrupted checkpoint write";
    std::filesystem::remove_all(path);
    ++removed;
  }
  return removed;
}

void write_callback_state(const std::filesystem::path& directory, const CallbackState& state) {
  std::filesystem::create_directories(directory);
  if (!state.tensors.empty()) io::write_safetensors(directory / "state.safetensors", state.tensors);
  if (!state.json.is_null()) io::write_file_atomically(directory / "state.json", state.json.dump(2) + "\n");
}

CallbackState read_callback_state(const std::filesystem::path& directory) {
  CallbackState state;
  state.directory = directory;
  std::error_code error;
  if (std::filesystem::is_regular_file(directory / "state.safetensors", error)) {
    io::SafetensorsReader reader(directory / "state.safetensors");
    for (const auto& entry : reader.entries()) state.tensors.insert(entry.name, reader.tensor(entry.name).clone());
  }
  if (std::filesystem::is_regular_file(directory / "state.json", error)) {
    const auto state_file = directory / "state.json";
    state.json = io::parse_json_strict(io::read_text_file(state_file, io::kNoSizeLimit), state_file.string(), 64);
  }
  return state;
}

at::Tensor cpu_generator_state() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_cpu_generator_state(const at::Tensor& state) {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace ladle::trainer
