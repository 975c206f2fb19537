// A cache of a tokenized corpus: the token ids in a small binary file keyed by hashes of the tokenizer model and
// the corpus, so a run tokenizes its corpus once and later runs (and resumes) load it in a moment.
//
// Format, version 1, little-endian, 48-byte header then the ids:
//   0  magic "LADLETOK" (8 bytes)     8  u32 version (1)          12 u32 bytes per token (4, int32 ids)
//   16 u64 tokenizer hash             24 u64 corpus hash          32 u64 document count
//   40 u64 token count                48 token count x int32 ids
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace ladle::text {

// 64-bit FNV-1a of bytes, continuing from `hash` (so a long input can be hashed in pieces): a change detector
// for caches, not a defence against crafted collisions.
std::uint64_t fnv1a_64(std::string_view bytes, std::uint64_t hash = 0xCBF29CE484222325ull);
// fnv1a_64 of a file's bytes. Throws ladle::Error naming the file when it cannot be read.
std::uint64_t file_content_hash(const std::filesystem::path& path);

// What a cache was made from.
struct TokenCacheKey {
  std::uint64_t tokenizer_hash = 0;  // file_content_hash of the tokenizer model file
  std::uint64_t corpus_hash = 0;     // file_content_hash of the corpus file
};

struct TokenCache {
  TokenCacheKey key;                 // what the tokens were made from
  std::uint64_t document_count = 0;  // documents in the corpus (each ends with eos in tokens)
  std::vector<std::int32_t> tokens;  // the corpus's token ids
};

// Writes the cache atomically (a partial file renamed into place). Throws ladle::Error on failure.
void write_token_cache(const std::filesystem::path& path, const TokenCache& cache);

// Reads a cache and checks its header: magic, version, token width, that its key equals `expected` (the field
// that differs is named) and that the file holds exactly the counted tokens. Throws ladle::Error otherwise.
TokenCache read_token_cache(const std::filesystem::path& path, const TokenCacheKey& expected);

}  // namespace ladle::text
