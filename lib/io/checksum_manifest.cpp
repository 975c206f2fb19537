#include "lib/io/checksum_manifest.h"

#include <xxhash.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "lib/io/atomic_file.h"
#include "lib/io/json_member.h"
#include "lib/io/mapped_file.h"
#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"
#include "lib/util/error.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "ladle-checksums";
constexpr int kVersion = 1;
constexpr const char* kHashName = "XXH3-128";

struct FileRecord {
  std::uintmax_t size = 0;
  std::string hash;
};

std::string hex_of(const unsigned char* bytes, std::size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < size; ++i) {
    text += digits[bytes[i] >> 4];
    text += digits[bytes[i] & 15];
  }
  return text;
}

bool is_hash_text(const std::string& text) {
  return text.size() == 32 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The regular files under `folder` but the manifest, by their path relative to it ("model/config.json").
std::set<std::string> files_under(const fs::path& folder) {
  std::set<std::string> files;
  std::error_code error;
  for (fs::recursive_directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    const std::string relative = it->path().lexically_relative(folder).generic_string();
    if (relative != kChecksumManifestFile) files.insert(relative);
  }
  if (error) throw Error(folder.string() + ": cannot list the folder: " + error.message());
  return files;
}

// A manifest key must name a file inside the folder: relative, without "..", in its normal form.
bool is_path_inside(const std::string& name) {
  const fs::path path(name);
  if (name.empty() || path.is_absolute() || path.lexically_normal().generic_string() != name) return false;
  return std::none_of(path.begin(), path.end(), [](const fs::path& part) { return part == ".."; });
}

// The manifest's files, or throws ladle::Error saying what is malformed.
std::map<std::string, FileRecord> read_manifest(const fs::path& manifest) {
  constexpr const char* kMalformed = "malformed manifest";
  constexpr std::uintmax_t kMaxManifestBytes = 64u << 20;  // about 500 000 files
  const nlohmann::json json = parse_json_strict(read_text_file(manifest, kMaxManifestBytes), kMalformed, 8);
  const auto fail = [&](const std::string& what) -> Error { return Error(std::string(kMalformed) + ": " + what); };
  if (json_member<std::string>(json, "format") != kFormat || json_member<std::int64_t>(json, "version") != kVersion) {
    throw fail(std::string("expected format \"") + kFormat + "\" version " + std::to_string(kVersion));
  }
  if (json_member<std::string>(json, "hash") != kHashName)
    throw fail(std::string("expected hash \"") + kHashName + "\"");
  if (!json.contains("files") || !json.at("files").is_object()) throw fail("expected an object \"files\"");
  std::map<std::string, FileRecord> files;
  for (const auto& [name, entry] : json.at("files").items()) {
    if (!entry.is_object() || !entry.contains("size") || !entry.at("size").is_number_unsigned() ||
        !entry.contains("xxh3_128") || !entry.at("xxh3_128").is_string() ||
        !is_hash_text(entry.at("xxh3_128").get<std::string>())) {
      throw fail("files." + name + ": expected {\"size\": <bytes>, \"xxh3_128\": <32 hex digits>}");
    }
    files[name] = {entry.at("size").get<std::uintmax_t>(), entry.at("xxh3_128").get<std::string>()};
  }
  return files;
}

// The problem with one listed file, or "" when it matches.
std::string check_file(const fs::path& path, const FileRecord& expected) {
  std::error_code error;
  const fs::file_status status = fs::symlink_status(path, error);
  if (!fs::exists(status)) return "missing";
  if (!fs::is_regular_file(status)) return "not a regular file";
  const std::uintmax_t size = fs::file_size(path, error);
  if (error) return "cannot read its size: " + error.message();
  if (size != expected.size) {
    return "size " + std::to_string(size) + " bytes, the manifest says " + std::to_string(expected.size);
  }
  try {
    const std::string hash = xxh3_128_of_file(path);
    if (hash != expected.hash) {
      return std::string("content differs (") + kHashName + " " + hash + ", the manifest says " + expected.hash + ")";
    }
  } catch (const Error& read_error) {
    return read_error.what();
  }
  return "";
}

}  // namespace

std::string xxh3_128_of_file(const fs::path& path) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(path, error);
  if (error) throw Error(path.string() + ": cannot read: " + error.message());
  XXH128_hash_t hash;
  if (size == 0) {
    hash = XXH3_128bits(nullptr, 0);  // MappedFile cannot map an empty file
  } else {
    const MappedFile file(path);
    hash = XXH3_128bits(file.data(), file.size());
  }
  XXH128_canonical_t canonical;  // big-endian, high half first: the byte order xxh128sum prints
  XXH128_canonicalFromHash(&canonical, hash);
  return hex_of(canonical.digest, sizeof canonical.digest);
}

void write_checksum_manifest(const fs::path& folder) {
  nlohmann::json files = nlohmann::json::object();
  for (const std::string& name : files_under(folder)) {
    const fs::path path = folder / name;
    files[name] = {{"size", fs::file_size(path)}, {"xxh3_128", xxh3_128_of_file(path)}};
  }
  const nlohmann::json manifest = {{"format", kFormat}, {"version", kVersion}, {"hash", kHashName}, {"files", files}};
  write_file_atomically(folder / kChecksumManifestFile, manifest.dump(2) + "\n");
}

ChecksumVerification verify_checksum_manifest(const fs::path& folder) {
  ChecksumVerification result;
  const fs::path manifest_path = folder / kChecksumManifestFile;
  std::error_code error;
  if (!fs::exists(fs::symlink_status(manifest_path, error))) return result;
  result.manifest_found = true;
  std::map<std::string, FileRecord> manifest;
  std::set<std::string> present;
  try {
    manifest = read_manifest(manifest_path);
    present = files_under(folder);
  } catch (const Error& read_error) {
    result.problems.push_back({kChecksumManifestFile, read_error.what()});
    return result;
  }
  for (const auto& [name, expected] : manifest) {
    ++result.files_checked;
    result.bytes_checked += expected.size;
    if (!is_path_inside(name)) {
      result.problems.push_back({name, "the manifest names a path outside the folder"});
      continue;
    }
    if (std::string what = check_file(folder / name, expected); !what.empty()) {
      result.problems.push_back({name, std::move(what)});
    }
  }
  for (const std::string& name : present) {
    if (manifest.count(name) == 0) result.problems.push_back({name, "not in the manifest"});
  }
  return result;
}

std::string describe_problems(const fs::path& folder, const std::vector<ChecksumProblem>& problems) {
  std::string text;
  for (const auto& problem : problems) {
    text += (text.empty() ? "" : "\n") + (folder / problem.file).string() + ": " + problem.what;
  }
  return text;
}

}  // namespace ladle::io
