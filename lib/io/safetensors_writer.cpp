#include "lib/io/safetensors_writer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "lib/io/dtype.h"
#include "lib/io/strict_json.h"
#include "lib/io/torch_dtype.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; the writer copies tensor memory unconverted"
#endif

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

// The dtype a tensor is stored as; throws naming it when it cannot be stored at all.
Dtype storable_dtype(const std::string& name, const at::Tensor& tensor, const std::string& file_label) {
  const std::string where = file_label + ": tensor " + quote_for_message(name);
  if (name == "__metadata__") throw Error(where + ": the name is reserved for the file's metadata");
  if (!tensor.defined()) throw Error(where + ": tensor is undefined");
  if (tensor.layout() != at::kStrided) throw Error(where + ": only dense (strided) tensors can be stored");
  try {
    return from_scalar_type(tensor.scalar_type());
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
}

std::vector<TensorDeclaration> declarations_of(const NamedTensors& tensors, const std::string& file_label) {
  std::vector<TensorDeclaration> declarations;
  declarations.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    declarations.push_back({name, storable_dtype(name, tensor, file_label), tensor.sizes().vec()});
  }
  return declarations;
}

// Where one file's bytes go: its header (the 8-byte size included) and the file offset of each tensor's bytes.
struct FileLayout {
  std::string header;
  std::vector<std::uint64_t> offsets;  // in the order the tensors were given
};

// Tensors are ordered within the file by element size, largest first (stable, so otherwise in the order given).
FileLayout lay_out_file(const std::vector<TensorDeclaration>& tensors,
                        const std::map<std::string, std::string>& metadata, const std::string& file_label) {
  std::vector<std::size_t> order(tensors.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(tensors[a].dtype) > dtype_size(tensors[b].dtype);
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<std::uint64_t> data_offsets(tensors.size());
  std::uint64_t offset = 0;
  for (const std::size_t i : order) {
    data_offsets[i] = offset;
    header[tensors[i].name] = {{"dtype", dtype_name(tensors[i].dtype)},
                               {"shape", tensors[i].shape},
                               {"data_offsets", {offset, offset + tensors[i].nbytes()}}};
    offset += tensors[i].nbytes();
  }
  std::string text;
  try {
    text = header.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::ordered_json::exception& e) {
    throw Error(file_label + ": a tensor name or metadata string is not valid UTF-8 (" + e.what() + ")");
  }
  // The reference writer pads with spaces so that the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  FileLayout layout;
  layout.header.resize(8);
  for (int i = 0; i < 8; ++i) layout.header[i] = static_cast<char>(text.size() >> (8 * i));
  layout.header += text;
  for (const std::uint64_t data_offset : data_offsets) layout.offsets.push_back(layout.header.size() + data_offset);
  return layout;
}

// Writes a tensor's bytes at `offset`, converted to a contiguous CPU tensor first (one tensor at a time, so at most
// one converted copy exists).
void write_tensor_at(AtomicFile& file, std::uint64_t offset, const at::Tensor& tensor) {
  if (tensor.nbytes() == 0) return;
  const at::Tensor cpu = tensor.to(at::kCPU).resolve_conj().resolve_neg().contiguous();
  file.write_at(offset, cpu.data_ptr(), cpu.nbytes());
}

// Writes a whole file's header and tensors; the caller closes or commits it.
void write_safetensors_to(AtomicFile& file, const NamedTensors& tensors,
                          const std::map<std::string, std::string>& metadata) {
  const std::string label = file.target().string();
  const FileLayout layout = lay_out_file(declarations_of(tensors, label), metadata, label);
  file.write(layout.header.data(), layout.header.size());
  std::size_t i = 0;
  for (const auto& entry : tensors) write_tensor_at(file, layout.offsets[i++], entry.second);
}

std::string shard_file_name(const std::string& prefix, std::size_t index, std::size_t count) {
  char numbers[32];
  std::snprintf(numbers, sizeof numbers, "-%05zu-of-%05zu", index, count);
  return prefix + numbers + ".safetensors";
}

// True for "<prefix>.safetensors", "<prefix>.safetensors.index.json" and "<prefix>-NNNNN-of-NNNNN.safetensors".
bool is_checkpoint_file_name(const std::string& name, const std::string& prefix) {
  if (name == prefix + ".safetensors" || name == prefix + ".safetensors.index.json") return true;
  const std::string start = prefix + "-";
  const std::string end = ".safetensors";
  if (name.size() <= start.size() + end.size() || !starts_with(name, start) || !ends_with(name, end)) {
    return false;
  }
  const std::string middle = name.substr(start.size(), name.size() - start.size() - end.size());
  const auto of = middle.find("-of-");
  auto all_digits = [](const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  return of != std::string::npos && all_digits(middle.substr(0, of)) && all_digits(middle.substr(of + 4));
}

}  // namespace

void write_safetensors(const fs::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  AtomicFile file(path, FileWriteMode::kDirect);
  write_safetensors_to(file, tensors, metadata);
  file.commit();
}

std::uint64_t TensorDeclaration::nbytes() const {
  std::uint64_t count = dtype_size(dtype);
  for (const std::int64_t size : shape) count *= static_cast<std::uint64_t>(size);
  return count;
}

ShardedSafetensorsWriter::ShardedSafetensorsWriter(fs::path directory, std::uint64_t max_shard_bytes,
                                                   std::string prefix, std::map<std::string, std::string> metadata)
    : directory_(std::move(directory)),
      max_shard_bytes_(max_shard_bytes),
      prefix_(std::move(prefix)),
      metadata_(std::move(metadata)) {
  if (max_shard_bytes_ == 0) throw Error(directory_.string() + ": the shard size budget must be positive");
  std::error_code error;
  fs::create_directories(directory_, error);
  if (error) throw Error(directory_.string() + ": cannot create folder: " + error.message());
  for (fs::directory_iterator item(directory_, error), end; !error && item != end; item.increment(error)) {
    const std::string name = item->path().filename().string();
    if (is_checkpoint_file_name(name, prefix_)) {
      throw Error(directory_.string() + ": already holds checkpoint file " + name +
                  "; write the checkpoint to a fresh folder");
    }
  }
  if (error) throw Error(directory_.string() + ": cannot list folder: " + error.message());
}

void ShardedSafetensorsWriter::declare_tensors(const std::vector<TensorDeclaration>& tensors) {
  if (finished_ || !names_.empty() || declared_mode_) {
    throw Error(directory_.string() + ": declare_tensors() must come once, before any tensor is added");
  }
  // Shards are cut where add() would cut them when the tensors come in this order.
  std::vector<std::vector<TensorDeclaration>> shards;
  std::uint64_t shard_bytes = 0;
  for (const auto& tensor : tensors) {
    const std::string where = directory_.string() + ": tensor " + quote_for_message(tensor.name);
    if (tensor.name == "__metadata__") throw Error(where + ": the name is reserved for the file's metadata");
    if (!declared_.emplace(tensor.name, Declared{}).second) throw Error(where + " is declared twice");
    if (shards.empty() || (!shards.back().empty() && shard_bytes + tensor.nbytes() > max_shard_bytes_)) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(tensor);
    shard_bytes += tensor.nbytes();
    total_bytes_ += tensor.nbytes();
  }
  declared_mode_ = true;
  for (const auto& shard_tensors : shards) {
    AtomicFile shard = open_shard();
    const FileLayout layout = lay_out_file(shard_tensors, metadata_, shard.target().string());
    shard.write(layout.header.data(), layout.header.size());
    std::vector<std::string> names;
    for (std::size_t i = 0; i < shard_tensors.size(); ++i) {
      declared_.at(shard_tensors[i].name) = {shard_tensors[i], shards_.size(), layout.offsets[i]};
      names.push_back(shard_tensors[i].name);
    }
    shards_.push_back(std::move(shard));
    shard_tensors_.push_back(std::move(names));
    tensors_to_add_.push_back(shard_tensors.size());
  }
}

void ShardedSafetensorsWriter::add(const std::string& name, const at::Tensor& tensor) {
  if (finished_) throw Error(directory_.string() + ": tensor " + quote_for_message(name) + " added after finish()");
  if (names_.count(name) != 0) {
    throw Error(directory_.string() + ": tensor " + quote_for_message(name) + " was already added");
  }
  const Dtype dtype = storable_dtype(name, tensor, directory_.string());  // fail now rather than at the shard
  if (declared_mode_) {
    add_declared(name, dtype, tensor);
    return;
  }
  names_.insert(name);
  const auto nbytes = static_cast<std::uint64_t>(tensor.nbytes());
  if (!current_.empty() && current_bytes_ + nbytes > max_shard_bytes_) write_current_shard();
  current_.insert(name, tensor);
  current_bytes_ += nbytes;
}

void ShardedSafetensorsWriter::add_declared(const std::string& name, Dtype dtype, const at::Tensor& tensor) {
  const std::string where = directory_.string() + ": tensor " + quote_for_message(name);
  const auto found = declared_.find(name);
  if (found == declared_.end()) throw Error(where + " was not declared (declare_tensors)");
  const Declared& declared = found->second;
  if (dtype != declared.tensor.dtype || tensor.sizes() != at::IntArrayRef(declared.tensor.shape)) {
    std::ostringstream message;
    message << where << " is " << dtype_name(dtype) << " " << tensor.sizes() << " but was declared "
            << dtype_name(declared.tensor.dtype) << " " << at::IntArrayRef(declared.tensor.shape);
    throw Error(message.str());
  }
  names_.insert(name);
  write_tensor_at(shards_[declared.shard], declared.offset, tensor);
  // The shard is complete: flush it to disk now, as write_current_shard does.
  if (--tensors_to_add_[declared.shard] == 0) shards_[declared.shard].close();
}

AtomicFile ShardedSafetensorsWriter::open_shard() const {
  const std::string temporary_name = prefix_ + "-shard-" + std::to_string(shards_.size() + 1) + ".safetensors";
  return AtomicFile(directory_ / temporary_name, FileWriteMode::kDirect);
}

void ShardedSafetensorsWriter::write_current_shard() {
  AtomicFile shard = open_shard();
  write_safetensors_to(shard, current_, metadata_);
  shard.close();
  shards_.push_back(std::move(shard));
  shard_tensors_.push_back(current_.names());
  total_bytes_ += current_bytes_;
  current_ = NamedTensors();
  current_bytes_ = 0;
}

std::vector<fs::path> ShardedSafetensorsWriter::finish() {
  if (finished_) throw Error(directory_.string() + ": finish() was already called");
  finished_ = true;
  for (std::size_t shard = 0; shard < tensors_to_add_.size(); ++shard) {
    if (tensors_to_add_[shard] == 0) continue;
    for (const auto& name : shard_tensors_[shard]) {
      if (names_.count(name) == 0) {
        throw Error(directory_.string() + ": tensor " + quote_for_message(name) + " was declared but never added");
      }
    }
  }
  if (!current_.empty() || shards_.empty()) write_current_shard();

  std::vector<fs::path> paths;
  if (shards_.size() == 1) {
    paths.push_back(directory_ / (prefix_ + ".safetensors"));
    shards_.front().commit_as(paths.back());
    return paths;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    const std::string file_name = shard_file_name(prefix_, i + 1, shards_.size());
    paths.push_back(directory_ / file_name);
    shards_[i].commit_as(paths.back());
    for (const auto& name : shard_tensors_[i]) weight_map[name] = file_name;
  }
  const nlohmann::json index = {{"metadata", {{"total_size", total_bytes_}}}, {"weight_map", weight_map}};
  write_file_atomically(directory_ / (prefix_ + ".safetensors.index.json"), index.dump(2) + "\n");
  return paths;
}

std::uint64_t parse_byte_size(const std::string& text) {
  const auto fail = [&](const std::string& why) {
    return Error("invalid byte size '" + text + "': " + why +
                 " (expected a number with an optional unit: B, K/M/G/T or KiB/MiB/GiB/TiB = powers of 1024, "
                 "KB/MB/GB/TB = powers of 1000)");
  };
  std::size_t pos = 0;
  auto skip_spaces = [&] {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  };
  skip_spaces();
  // The digits, without the decimal point, as an integer; `scale` is 10^(digits after the point).
  unsigned __int128 mantissa = 0;
  unsigned __int128 scale = 1;
  bool any_digit = false;
  bool after_point = false;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c == '.' && !after_point) {
      after_point = true;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      any_digit = true;
      mantissa = mantissa * 10 + static_cast<unsigned>(c - '0');
      if (after_point) scale *= 10;
      if (mantissa > std::numeric_limits<std::uint64_t>::max() || scale > 1'000'000'000'000'000'000ull) {
        throw fail("too many digits");
      }
    } else {
      break;
    }
  }
  if (!any_digit) throw fail("no number");
  skip_spaces();
  std::string unit = text.substr(pos);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.back()))) unit.pop_back();

  if (!unit.empty() && unit.back() == 'b') throw fail("'b' means bits; write 'B' for bytes");
  std::uint64_t multiplier = 0;
  if (unit.empty() || unit == "B") {
    multiplier = 1;
  } else {
    const std::string prefixes = "KMGT";
    const auto power = prefixes.find(static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0]))));
    const std::string rest = unit.substr(1);
    if (power == std::string::npos || !(rest.empty() || rest == "B" || rest == "iB")) throw fail("unknown unit");
    const std::uint64_t base = rest == "B" ? 1000 : 1024;
    multiplier = 1;
    for (std::size_t i = 0; i <= power; ++i) multiplier *= base;
  }
  const unsigned __int128 bytes = mantissa * multiplier / scale;
  if (bytes > std::numeric_limits<std::uint64_t>::max()) throw fail("larger than 2^64 - 1 bytes");
  return static_cast<std::uint64_t>(bytes);
}

}  // namespace ladle::io
