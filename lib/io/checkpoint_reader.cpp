#include "lib/io/checkpoint_reader.h"

#include <algorithm>
#include <map>
#include <system_error>

#include "lib/io/safetensors_index.h"
#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"
#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr const char* kConfigFile = "config.json";
// Index and config files are small (a large model's index is a few hundred KB); anything near this is hostile.
constexpr std::uintmax_t kMaxJsonFileBytes = 100'000'000;

bool path_exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error);
}

}  // namespace

CheckpointReader::CheckpointReader(const fs::path& path) : path_(path) {
  std::error_code error;
  const auto status = fs::status(path, error);
  if (!fs::exists(status)) throw Error(path.string() + ": no such file or folder");
  if (!fs::is_directory(status)) {
    add_shard(path);
    return;
  }

  if (path_exists(path / kConfigFile)) {
    const fs::path config_path = path / kConfigFile;
    // As hostile as any outside file: a key given twice or nesting without end is an error, not a guess.
    config_ = parse_json_strict(read_text_file(config_path, kMaxJsonFileBytes), config_path.string(),
                                kMaxConfigJsonDepth);
    if (!config_->is_object()) {
      throw Error(config_path.string() + ": must be a JSON object, got " + config_->type_name());
    }
  }

  if (path_exists(path / kSingleFile)) {
    if (path_exists(path / kIndexFile)) {
      LADLE_LOG(warning) << path.string() << ": holds both " << kSingleFile << " and " << kIndexFile << "; reading "
                         << kSingleFile << " as transformers does";
    }
    add_shard(path / kSingleFile);
    return;
  }
  if (path_exists(path / kIndexFile)) {
    open_index(path / kIndexFile);
    return;
  }

  std::vector<std::string> safetensors_files;
  std::vector<std::string> pickle_files;
  for (fs::directory_iterator item(path, error), end; !error && item != end; item.increment(error)) {
    const std::string name = item->path().filename().string();
    std::error_code status_error;
    if (ends_with(name, ".safetensors") && item->is_regular_file(status_error)) safetensors_files.push_back(name);
    if (ends_with(name, ".bin") && starts_with(name, "pytorch_model")) pickle_files.push_back(name);
  }
  if (error) throw Error(path.string() + ": cannot list folder: " + error.message());
  std::sort(safetensors_files.begin(), safetensors_files.end());
  if (safetensors_files.size() == 1) {
    add_shard(path / safetensors_files.front());
    return;
  }
  if (safetensors_files.size() > 1) {
    std::string list;
    for (const auto& name : safetensors_files) list += (list.empty() ? "" : ", ") + name;
    throw Error(path.string() + ": holds several .safetensors files (" + list + ") but no " + kIndexFile +
                " saying which tensors each holds");
  }
  if (!pickle_files.empty()) {
    throw Error(path.string() + ": holds only pickle checkpoints (" + pickle_files.front() +
                "); ladle does not load pickle files because unpickling can execute arbitrary code. Convert the "
                "checkpoint to safetensors (in Python: model.save_pretrained(folder, safe_serialization=True))");
  }
  throw Error(path.string() + ": no " + kSingleFile + ", " + kIndexFile + " or other .safetensors file");
}

CheckpointReader::~CheckpointReader() = default;

void CheckpointReader::add_shard(const fs::path& shard_path) {
  auto reader = std::make_unique<SafetensorsReader>(shard_path);
  const std::size_t shard = shards_.size();
  const auto& entries = reader->entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto [where, inserted] = location_.emplace(entries[i].name, std::make_pair(shard, i));
    if (!inserted) {
      throw Error(path_.string() + ": tensor " + quote_for_message(entries[i].name) + " is in two shards, " +
                  shards_[where->second.first]->path().filename().string() + " and " + shard_path.filename().string());
    }
  }
  shards_.push_back(std::move(reader));
}

void CheckpointReader::open_index(const fs::path& index_path) {
  const std::string label = index_path.string();
  const SafetensorsIndex index = parse_safetensors_index(read_text_file(index_path, kMaxJsonFileBytes), label);
  const fs::path folder = index_path.parent_path();
  for (const auto& [file, names] : index.tensors_by_shard) {
    if (!fs::is_regular_file(folder / file)) {
      throw Error(label + ": shard " + quote_for_message(file) + " (listed for tensor " +
                  quote_for_message(names.front()) + ") does not exist in " + folder.string());
    }
    add_shard(folder / file);
    const std::size_t shard = shards_.size() - 1;
    for (const auto& name : names) {
      const auto found = location_.find(name);
      if (found == location_.end() || found->second.first != shard) {
        throw Error(label + ": tensor " + quote_for_message(name) + " is listed in shard " + quote_for_message(file) +
                    " but that file does not hold it");
      }
    }
  }
  for (const auto& name : names()) {
    if (index.tensor_names.count(name) == 0) {
      LADLE_LOG(warning) << label << ": tensor " << quote_for_message(name) << " is in shard "
                         << shard_of(name).path().filename().string()
                         << " but not in the weight_map; loading it anyway, as transformers does";
    }
  }
  if (index.total_size) {
    const json& declared = *index.total_size;
    const std::uint64_t actual = tensor_bytes();
    const bool matches = declared.is_number_unsigned()
                             ? declared.get<std::uint64_t>() == actual
                             : declared.is_number_float() && declared.get<double>() == static_cast<double>(actual);
    if (!matches) {
      LADLE_LOG(warning) << label << ": metadata.total_size is " << declared.dump() << " but the shards hold " << actual
                         << " bytes of tensor data";
    }
  }
}

std::vector<std::string> CheckpointReader::names() const {
  std::vector<std::string> result;
  result.reserve(location_.size());
  for (const auto& shard : shards_) {
    for (const auto& entry : shard->entries()) result.push_back(entry.name);
  }
  return result;
}

const TensorEntry& CheckpointReader::entry(const std::string& name) const {
  const auto found = location_.find(name);
  if (found == location_.end()) {
    throw Error(path_.string() + ": no tensor named " + quote_for_message(name) + " in the checkpoint");
  }
  return shards_[found->second.first]->entries()[found->second.second];
}

const SafetensorsReader& CheckpointReader::shard_of(const std::string& name) const {
  entry(name);  // throws for an unknown name
  return *shards_[location_.at(name).first];
}

at::Tensor CheckpointReader::tensor(const std::string& name) const { return shard_of(name).tensor(name); }

at::Tensor CheckpointReader::read_tensor(const std::string& name, std::int64_t first_row, std::int64_t row_count) const {
  return shard_of(name).read_tensor(name, first_row, row_count);
}

std::uint64_t CheckpointReader::parameter_count() const {
  std::uint64_t total = 0;
  for (const auto& shard : shards_) {
    for (const auto& entry : shard->entries()) total += entry.numel();
  }
  return total;
}

std::uint64_t CheckpointReader::tensor_bytes() const {
  std::uint64_t total = 0;
  for (const auto& shard : shards_) {
    for (const auto& entry : shard->entries()) total += entry.nbytes();
  }
  return total;
}

NamedTensors CheckpointReader::load_all() const {
  NamedTensors all;
  for (const auto& shard : shards_) {
    for (const auto& entry : shard->entries()) all.insert(entry.name, shard->tensor(entry.name));
  }
  return all;
}

}  // namespace ladle::io
