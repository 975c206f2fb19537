// Fingerprints of pipeline stages (a DTM run, a stage of a merge recipe): a hash of the settings a stage's output
// depends on and of its inputs' fingerprints, recorded in a file beside (or inside) the output. A stage's output
// is reused only while its recorded fingerprint equals the one the current settings give, so an edit redoes the
// stages it reaches and everything downstream, and nothing stale is silently reused.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace ladle::io {

// 16 hex digits of FNV-1a over the JSON text of `inputs` (a change detector, not a defence against crafted
// collisions).
std::string fingerprint_of(const nlohmann::json& inputs);

// A model folder's (or single file's) files by name, size and modification time: re-training or re-merging a
// model changes them, and hashing gigabytes of weights on every run would not be worth it.
nlohmann::json folder_identity(const std::filesystem::path& path);

// The fingerprint recorded in `file`, or "" when there is none.
std::string recorded_fingerprint(const std::filesystem::path& file);
// Records it in `file` (atomically, creating the folder).
void record_fingerprint(const std::filesystem::path& file, const std::string& fingerprint);

}  // namespace ladle::io
