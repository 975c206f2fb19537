// A folder's checksum manifest: FOLDER/checksums.json lists every other file of the folder (recursively) with its
// size and XXH3-128 hash, so that a flipped byte, a truncated or a missing file is found before the folder is
// trusted (safetensors itself carries no checksum). Written last, just before the folder is committed, after the
// files are on disk (their pages are still in the page cache, so hashing costs no extra read from the disk).
//
//   {"format": "ladle-checksums", "version": 1, "hash": "XXH3-128",
//    "files": {"model/model.safetensors": {"size": 81920, "xxh3_128": "<32 hex digits>"}, ...}}
//
// The hash is printed as `xxh128sum` (Debian's `xxhash` package) prints it, so a file can be checked by hand.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ladle::io {

inline constexpr const char* kChecksumManifestFile = "checksums.json";

// The XXH3-128 hash of a file's bytes (seed 0), as 32 lowercase hex digits, high half first (xxh128sum's form).
// Throws ladle::Error naming the path when it cannot be read.
std::string xxh3_128_of_file(const std::filesystem::path& path);

// Writes FOLDER/checksums.json (atomically) for every regular file under FOLDER but itself.
void write_checksum_manifest(const std::filesystem::path& folder);

// One file that does not match the manifest.
struct ChecksumProblem {
  std::string file;  // its path relative to the folder (as the manifest names it)
  std::string what;  // what differs: "missing", "size 10 bytes, the manifest says 12", ...
};

struct ChecksumVerification {
  bool manifest_found = false;            // false: the folder has no checksums.json, so nothing could be checked
  std::size_t files_checked = 0;          // files listed in the manifest
  std::uintmax_t bytes_checked = 0;       // their total size according to the manifest
  std::vector<ChecksumProblem> problems;  // empty when every file matches
  bool verified() const { return manifest_found && problems.empty(); }
};

// Checks every file of FOLDER against its manifest: a listed file that is missing, has another size or another
// hash, a file the manifest does not list, and a manifest that is malformed or names a path outside the folder are
// each one problem. Never throws for what it finds (a folder that is not there has no manifest).
ChecksumVerification verify_checksum_manifest(const std::filesystem::path& folder);

// "FOLDER/FILE: WHAT" for each problem, one per line; for logs and error messages.
std::string describe_problems(const std::filesystem::path& folder, const std::vector<ChecksumProblem>& problems);

}  // namespace ladle::io
