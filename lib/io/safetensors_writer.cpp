#include "lib/io/safetensors_writer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "lib/io/dtype.h"
#include "lib/io/strict_json.h"
#include "lib/io/torch_dtype.h"
#include "lib/util/error.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; the writer copies tensor memory unconverted"
#endif

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

struct PlannedTensor {
  const std::string* name;
  const at::Tensor* tensor;
  Dtype dtype;
  std::uint64_t nbytes;
};

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

std::vector<PlannedTensor> plan_layout(const NamedTensors& tensors, const std::string& file_label) {
  std::vector<PlannedTensor> plan;
  plan.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const Dtype dtype = storable_dtype(name, tensor, file_label);
    plan.push_back({&name, &tensor, dtype, static_cast<std::uint64_t>(tensor.numel()) * dtype_size(dtype)});
  }
  std::stable_sort(plan.begin(), plan.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
    return dtype_size(a.dtype) > dtype_size(b.dtype);
  });
  return plan;
}

std::string header_json(const std::vector<PlannedTensor>& plan, const std::map<std::string, std::string>& metadata,
                        const std::string& file_label) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& planned : plan) {
    header[*planned.name] = {{"dtype", dtype_name(planned.dtype)},
                             {"shape", planned.tensor->sizes().vec()},
                             {"data_offsets", {offset, offset + planned.nbytes}}};
    offset += planned.nbytes;
  }
  std::string text;
  try {
    text = header.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::ordered_json::exception& e) {
    throw Error(file_label + ": a tensor name or metadata string is not valid UTF-8 (" + e.what() + ")");
  }
  // The reference writer pads with spaces so that the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_safetensors_to(AtomicFile& file, const NamedTensors& tensors,
                          const std::map<std::string, std::string>& metadata) {
  const std::string label = file.target().string();
  const auto plan = plan_layout(tensors, label);
  const std::string header = header_json(plan, metadata, label);
  std::uint8_t size_bytes[8];
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<std::uint8_t>(header.size() >> (8 * i));
  file.write(size_bytes, sizeof size_bytes);
  file.write(header.data(), header.size());
  for (const auto& planned : plan) {
    if (planned.nbytes == 0) continue;
    // One tensor at a time, so at most one converted copy exists.
    const at::Tensor cpu = planned.tensor->to(at::kCPU).resolve_conj().resolve_neg().contiguous();
    file.write(cpu.data_ptr(), planned.nbytes);
  }
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
  if (name.size() <= start.size() + end.size() || name.compare(0, start.size(), start) != 0 ||
      name.compare(name.size() - end.size(), end.size(), end) != 0) {
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
  AtomicFile file(path);
  write_safetensors_to(file, tensors, metadata);
  file.commit();
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

void ShardedSafetensorsWriter::add(const std::string& name, const at::Tensor& tensor) {
  if (finished_) throw Error(directory_.string() + ": tensor " + quote_for_message(name) + " added after finish()");
  if (names_.count(name) != 0) {
    throw Error(directory_.string() + ": tensor " + quote_for_message(name) + " was already added");
  }
  storable_dtype(name, tensor, directory_.string());  // fail now rather than when the shard is written
  names_.insert(name);
  const auto nbytes = static_cast<std::uint64_t>(tensor.nbytes());
  if (!current_.empty() && current_bytes_ + nbytes > max_shard_bytes_) write_current_shard();
  current_.insert(name, tensor);
  current_bytes_ += nbytes;
}

void ShardedSafetensorsWriter::write_current_shard() {
  const std::string temporary_name = prefix_ + "-shard-" + std::to_string(shards_.size() + 1) + ".safetensors";
  AtomicFile shard(directory_ / temporary_name);
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
