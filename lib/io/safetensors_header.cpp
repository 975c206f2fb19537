#include "lib/io/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lib/io/strict_json.h"
#include "lib/util/error.h"

namespace ladle::io {
namespace {

using json = nlohmann::json;

// Root object -> tensor entry object -> shape / data_offsets array: anything deeper is malformed.
constexpr std::size_t kMaxHeaderDepth = 3;

std::uint64_t read_le_u64(const std::uint8_t* bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// a * b, or false when it does not fit in 64 bits.
bool checked_multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& product) {
  return !__builtin_mul_overflow(a, b, &product);
}

// Parses one entry; `where` is "<file>: tensor '<name>'" for messages.
TensorEntry parse_entry(const std::string& name, const json& value, std::uint64_t data_size, const std::string& where) {
  if (!value.is_object()) throw Error(where + ": entry must be a JSON object, got " + value.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) throw Error(where + ": entry is missing the key '" + key + "'");
  }
  if (value.size() != 3) {
    for (const auto& item : value.items()) {
      if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
        throw Error(where + ": entry has the unexpected key " + quote_for_message(item.key()) +
                    " (expected exactly dtype, shape, data_offsets)");
      }
    }
  }

  TensorEntry entry;
  entry.name = name;

  const json& dtype = value["dtype"];
  if (!dtype.is_string()) throw Error(where + ": dtype must be a string, got " + dtype.type_name());
  const auto& dtype_text = dtype.get_ref<const std::string&>();
  auto parsed_dtype = parse_dtype(dtype_text);
  if (!parsed_dtype) {
    throw Error(where + ": unknown dtype " + quote_for_message(dtype_text) + " (known: " + known_dtype_names() + ")");
  }
  entry.dtype = *parsed_dtype;

  const json& shape = value["shape"];
  if (!shape.is_array()) throw Error(where + ": shape must be an array, got " + shape.type_name());
  std::uint64_t numel = 1;
  for (const json& dim : shape) {
    // nlohmann stores a non-negative integer as unsigned, a negative one as signed, anything else as float.
    if (!dim.is_number_unsigned()) {
      throw Error(where + ": shape must contain non-negative integers, got " + dim.dump());
    }
    const auto size = dim.get<std::uint64_t>();
    if (size > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
        !checked_multiply(numel, size, numel)) {
      throw Error(where + ": shape " + shape.dump() + " has more elements than fit in 64 bits");
    }
    entry.shape.push_back(static_cast<std::int64_t>(size));
  }
  std::uint64_t expected_bytes = 0;
  if (!checked_multiply(numel, dtype_size(entry.dtype), expected_bytes)) {
    throw Error(where + ": shape " + shape.dump() + " of " + dtype_text + " has more bytes than fit in 64 bits");
  }

  const json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    throw Error(where + ": data_offsets must be two non-negative integers [begin, end], got " + offsets.dump());
  }
  entry.begin = offsets[0].get<std::uint64_t>();
  entry.end = offsets[1].get<std::uint64_t>();
  const std::string range = "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + ")";
  if (entry.begin > entry.end) throw Error(where + ": data range " + range + " is reversed");
  if (entry.end > data_size) {
    throw Error(where + ": data range " + range + " ends past the data section (" + std::to_string(data_size) +
                " bytes)");
  }
  if (entry.end - entry.begin != expected_bytes) {
    throw Error(where + ": data range " + range + " holds " + std::to_string(entry.end - entry.begin) +
                " bytes but shape " + shape.dump() + " of " + dtype_text + " needs " + std::to_string(expected_bytes));
  }
  return entry;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& file_label) {
  if (!value.is_object()) {
    throw Error(file_label + ": __metadata__ must be an object of string values, got " + value.type_name());
  }
  std::map<std::string, std::string> metadata;
  for (const auto& item : value.items()) {
    if (!item.value().is_string()) {
      throw Error(file_label + ": __metadata__ value for " + quote_for_message(item.key()) + " must be a string, got " +
                  item.value().type_name());
    }
    metadata.emplace(item.key(), item.value().get<std::string>());
  }
  return metadata;
}

// The format requires the sorted ranges to tile [0, data_size) exactly (zero-size tensors may sit anywhere a
// range starts or ends).
void check_tiling(const std::vector<TensorEntry>& sorted, std::uint64_t data_size, const std::string& file_label) {
  std::uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const auto& entry : sorted) {
    if (entry.begin < covered) {
      throw Error(file_label + ": tensor " + quote_for_message(entry.name) + ": data range [" +
                  std::to_string(entry.begin) + ", " + std::to_string(entry.end) + ") overlaps tensor " +
                  quote_for_message(previous->name) + " (which ends at " + std::to_string(covered) + ")");
    }
    if (entry.begin > covered) {
      throw Error(file_label + ": tensor " + quote_for_message(entry.name) + ": data range starts at " +
                  std::to_string(entry.begin) + " leaving a hole of unindexed bytes [" + std::to_string(covered) +
                  ", " + std::to_string(entry.begin) + ") in the data section");
    }
    covered = entry.end;
    previous = &entry;
  }
  if (covered != data_size) {
    throw Error(file_label + ": trailing bytes: the tensors index " + std::to_string(covered) +
                " bytes but the data section holds " + std::to_string(data_size));
  }
}

}  // namespace

std::uint64_t TensorEntry::numel() const {
  std::uint64_t n = 1;
  for (auto dim : shape) n *= static_cast<std::uint64_t>(dim);
  return n;
}

SafetensorsHeader parse_safetensors_header(const std::uint8_t* bytes, std::uint64_t file_size,
                                           const std::string& file_label) {
  if (file_size < 8) {
    throw Error(file_label + ": file is too short for a safetensors file (" + std::to_string(file_size) +
                " bytes; the 8-byte header size alone needs 8)");
  }
  SafetensorsHeader header;
  header.header_size = read_le_u64(bytes);
  if (header.header_size > kMaxSafetensorsHeaderBytes) {
    throw Error(file_label + ": header size " + std::to_string(header.header_size) + " exceeds the limit of " +
                std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  if (header.header_size > file_size - 8) {
    throw Error(file_label + ": header size " + std::to_string(header.header_size) + " runs past the end of the " +
                std::to_string(file_size) + "-byte file (truncated?)");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes + 8), header.header_size);
  if (text.empty() || text.front() != '{') {
    throw Error(file_label + ": header must be a JSON object starting with '{'");
  }
  const json root = parse_json_strict(text, file_label + ": header", kMaxHeaderDepth);
  if (!root.is_object()) throw Error(file_label + ": header must be a JSON object, got " + root.type_name());

  const std::uint64_t data_size = file_size - header.data_offset();
  for (const auto& item : root.items()) {
    if (item.key() == "__metadata__") {
      header.metadata = parse_metadata(item.value(), file_label);
    } else {
      header.tensors.push_back(
          parse_entry(item.key(), item.value(), data_size, file_label + ": tensor " + quote_for_message(item.key())));
    }
  }
  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorEntry& a, const TensorEntry& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  check_tiling(header.tensors, data_size, file_label);
  return header;
}

}  // namespace ladle::io
