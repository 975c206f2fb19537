// model.safetensors.index.json, the index of a sharded Hugging Face checkpoint: which shard file holds each tensor.
// Torch-free, so that its fuzzer (tests/fuzz/safetensors_index_fuzzer.cpp) parses exactly what CheckpointReader
// parses. The shards themselves are checked against it by CheckpointReader.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

namespace ladle::io {

struct SafetensorsIndex {
  // Shard file name -> the tensors listed for it, in file-name order (Hugging Face's names sort in shard order).
  std::map<std::string, std::vector<std::string>> tensors_by_shard;
  std::unordered_set<std::string> tensor_names;  // every tensor of the weight_map
  std::optional<nlohmann::json> total_size;      // metadata.total_size as given, when present
};

// Parses the index text, treating it as hostile: a JSON object (strict_json.h: no duplicate keys, bounded depth)
// whose "weight_map" maps at least one tensor name to a plain file name (no '/', no "." or "..", no NUL byte:
// a shard must stay inside the checkpoint folder). Throws ladle::Error naming `label` (the index's path).
SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& label);

}  // namespace ladle::io
