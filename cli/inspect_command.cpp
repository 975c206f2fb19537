// `ladle inspect PATH`: what a safetensors file or Hugging Face model folder holds, and whether it is valid.
// `ladle inspect --verify PATH`: whether a checkpoint's files (or those of every checkpoint of a training run)
// still match their checksums.json.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checksum_manifest.h"
#include "lib/io/dtype.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"
#include "lib/util/shape_text.h"
#include "cli/commands.h"
#include "trainer/checkpoint.h"

namespace ladle::cli {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool summary = false;
  bool verify = false;
};

std::map<std::string, std::uint64_t> parameters_per_dtype(const io::CheckpointReader& reader) {
  std::map<std::string, std::uint64_t> counts;
  for (const auto& name : reader.names()) {
    const auto& entry = reader.entry(name);
    counts[io::dtype_name(entry.dtype)] += entry.numel();
  }
  return counts;
}

std::string architecture_of(const io::CheckpointReader& reader) {
  if (!reader.config()) return "";
  const auto& config = *reader.config();
  std::string text;
  if (config.contains("architectures") && config["architectures"].is_array()) {
    for (const auto& name : config["architectures"]) {
      if (name.is_string()) text += (text.empty() ? "" : ", ") + name.get<std::string>();
    }
  }
  if (config.contains("model_type") && config["model_type"].is_string()) {
    text += " (model_type " + config["model_type"].get<std::string>() + ")";
  }
  return text;
}

nlohmann::json inspect_json(const io::CheckpointReader& reader) {
  nlohmann::json report;
  report["path"] = reader.path().string();
  report["valid"] = true;
  report["shards"] = reader.shards().size();
  report["parameters"] = reader.parameter_count();
  report["bytes"] = reader.tensor_bytes();
  report["parameters_per_dtype"] = parameters_per_dtype(reader);
  if (reader.config()) report["config"] = *reader.config();
  report["tensors"] = nlohmann::json::array();
  for (const auto& name : reader.names()) {
    const auto& entry = reader.entry(name);
    report["tensors"].push_back({{"name", name},
                                 {"dtype", io::dtype_name(entry.dtype)},
                                 {"shape", entry.shape},
                                 {"bytes", entry.nbytes()},
                                 {"file", reader.shard_of(name).path().filename().string()}});
  }
  return report;
}

void print_text(const io::CheckpointReader& reader, bool summary) {
  std::cout << "path: " << reader.path().string() << "\n";
  std::cout << "files: " << reader.shards().size() << " safetensors file" << (reader.shards().size() == 1 ? "" : "s")
            << "\n";
  if (auto architecture = architecture_of(reader); !architecture.empty()) {
    std::cout << "architecture: " << architecture << "\n";
  }
  if (!summary) {
    std::size_t width = 4;
    for (const auto& name : reader.names()) width = std::max(width, name.size());
    std::cout << "\n" << std::left << std::setw(static_cast<int>(width)) << "name" << "  " << std::setw(8) << "dtype"
              << std::setw(24) << "shape" << "bytes\n";
    for (const auto& name : reader.names()) {
      const auto& entry = reader.entry(name);
      std::cout << std::left << std::setw(static_cast<int>(width)) << name << "  " << std::setw(8)
                << io::dtype_name(entry.dtype) << std::setw(24) << shape_text(entry.shape)
                << format_bytes(static_cast<double>(entry.nbytes())) << "\n";
    }
    std::cout << "\n";
  }
  std::cout << "tensors: " << reader.names().size() << "\n";
  std::cout << "parameters: " << reader.parameter_count() << " (" << format_count(reader.parameter_count()) << ")";
  for (const auto& [dtype, count] : parameters_per_dtype(reader)) std::cout << "  " << dtype << ": " << count;
  std::cout << "\n";
  std::cout << "bytes: " << reader.tensor_bytes() << " (" << format_bytes(reader.tensor_bytes()) << ")\n";
  std::cout << "valid: yes (header, offsets, shapes" << (reader.shards().size() > 1 ? ", index" : "")
            << " checked)\n";
}

// The folders --verify checks: PATH itself when it has a manifest or no checkpoints/, else every complete
// checkpoint of the training run in PATH.
std::vector<std::filesystem::path> folders_to_verify(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::exists(path / io::kChecksumManifestFile, error)) return {path};
  std::vector<std::filesystem::path> folders;
  for (const auto& checkpoint : trainer::complete_checkpoints(trainer::checkpoints_dir(path))) {
    folders.push_back(checkpoint.path);
  }
  if (folders.empty()) folders.push_back(path);
  return folders;
}

// Prints one line per folder that matches and one per problem; throws ladle::Error when any folder does not match
// or cannot be checked.
void verify_folders(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) {
    throw Error(path.string() + ": not a folder (--verify checks folders)");
  }
  const auto folders = folders_to_verify(path);
  std::size_t failed = 0;
  for (const auto& folder : folders) {
    const io::ChecksumVerification check = io::verify_checksum_manifest(folder);
    if (!check.manifest_found) {
      std::cout << folder.string() << ": no " << io::kChecksumManifestFile << ", cannot be verified\n";
    } else if (check.problems.empty()) {
      std::cout << folder.string() << ": verified, " << check.files_checked << " files, "
                << format_bytes(static_cast<double>(check.bytes_checked)) << "\n";
    } else {
      std::cout << io::describe_problems(folder, check.problems) << "\n";
    }
    failed += check.verified() ? 0 : 1;
  }
  if (failed > 0) {
    throw Error(path.string() + ": " + std::to_string(failed) + " of " + std::to_string(folders.size()) +
                (folders.size() == 1 ? " folder" : " folders") + " not verified");
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  auto* command = app.add_subcommand(
      "inspect", "Show the tensors of a safetensors file or Hugging Face model folder, and validate it");
  command->add_option("path", options->path, "A .safetensors file or a Hugging Face model folder")->required();
  command->add_flag("--json", options->json, "Print the report as JSON");
  command->add_flag("--summary", options->summary, "Totals only, no per-tensor table");
  command->add_flag("--verify", options->verify,
                    "Check a folder's files against its checksums.json (a checkpoint, or every checkpoint of a "
                    "training run's folder); exit status 1 when any differs");
  command->callback([options] {
    if (options->verify) {
      verify_folders(options->path);
      return;
    }
    io::CheckpointReader reader(options->path);
    if (options->json) {
      std::cout << inspect_json(reader).dump(2) << "\n";
    } else {
      print_text(reader, options->summary);
    }
  });
}

}  // namespace ladle::cli
