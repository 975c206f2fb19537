#include "lib/io/safetensors_index.h"

#include <cstddef>

#include "lib/io/strict_json.h"
#include "lib/util/error.h"

namespace ladle::io {
namespace {

// root -> weight_map / metadata -> values; the slack allows whatever else a tool puts in metadata.
constexpr std::size_t kMaxIndexDepth = 16;

// A shard name in an index must stay inside the folder.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

}  // namespace

SafetensorsIndex parse_safetensors_index(std::string_view text, const std::string& label) {
  const nlohmann::json index = parse_json_strict(text, label, kMaxIndexDepth);
  if (!index.is_object()) throw Error(label + ": must be a JSON object, got " + index.type_name());
  const auto weight_map = index.find("weight_map");
  if (weight_map == index.end() || !weight_map->is_object()) {
    throw Error(label + ": needs a \"weight_map\" object mapping tensor names to shard files");
  }
  SafetensorsIndex result;
  for (const auto& item : weight_map->items()) {
    const std::string where = label + ": weight_map entry for tensor " + quote_for_message(item.key());
    if (!item.value().is_string()) throw Error(where + ": must be a shard file name string");
    const auto& file = item.value().get_ref<const std::string&>();
    if (!is_plain_file_name(file)) {
      throw Error(where + ": shard " + quote_for_message(file) +
                  " must be a plain file name inside the checkpoint folder");
    }
    result.tensors_by_shard[file].push_back(item.key());
    result.tensor_names.insert(item.key());
  }
  if (result.tensors_by_shard.empty()) throw Error(label + ": weight_map lists no tensors");
  const auto metadata = index.find("metadata");
  if (metadata != index.end() && metadata->is_object() && metadata->contains("total_size")) {
    result.total_size = (*metadata)["total_size"];
  }
  return result;
}

}  // namespace ladle::io
