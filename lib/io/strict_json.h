// JSON parsing for files ladle must treat as hostile (safetensors headers, checkpoint indexes).
// Torch-free: the header parser and its fuzzer use it without libtorch.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ladle::io {

// Parses UTF-8 JSON text, rejecting what nlohmann::json would silently accept: an object with the same key
// twice (nlohmann keeps one of them; which tensor would a reader get?) and nesting deeper than max_depth
// (objects and arrays each count one level). Throws ladle::Error naming `label` for invalid JSON (including
// ill-formed UTF-8), duplicate keys and excess depth.
// How deep a model's config.json may nest: real ones use three or four levels (rope_scaling, quantization_config).
inline constexpr std::size_t kMaxConfigJsonDepth = 32;

nlohmann::json parse_json_strict(std::string_view text, const std::string& label, std::size_t max_depth);

// Untrusted text (a tensor name, a key) made safe to embed in an error message: single-quoted, control and
// non-ASCII bytes escaped as \xNN, cut after 200 bytes with "...".
std::string quote_for_message(std::string_view text);

}  // namespace ladle::io
