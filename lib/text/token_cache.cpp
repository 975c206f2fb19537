#include "lib/text/token_cache.h"

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lib/io/atomic_file.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the token cache stores ids in host order");

constexpr char kMagic[8] = {'L', 'A', 'D', 'L', 'E', 'T', 'O', 'K'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kTokenBytes = sizeof(std::int32_t);
constexpr std::size_t kHeaderBytes = 48;

template <typename T>
void put(std::string& header, std::size_t offset, T value) {
  std::memcpy(header.data() + offset, &value, sizeof value);
}

template <typename T>
T get(const std::array<char, kHeaderBytes>& header, std::size_t offset) {
  T value;
  std::memcpy(&value, header.data() + offset, sizeof value);
  return value;
}

std::string hex(std::uint64_t value) {
  std::ostringstream text;
  text << "0x" << std::hex << value;
  return text.str();
}

}  // namespace

std::uint64_t fnv1a_64(std::string_view bytes, std::uint64_t hash) {
  for (const char byte : bytes) {
    hash ^= static_cast<unsigned char>(byte);
    hash *= 0x100000001B3ull;  // FNV prime
  }
  return hash;
}

std::uint64_t file_content_hash(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open to hash");
  auto hash = fnv1a_64({});
  std::vector<char> buffer(1u << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash = fnv1a_64(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())), hash);
  }
  if (in.bad()) throw Error(path.string() + ": read error while hashing");
  return hash;
}

void write_token_cache(const std::filesystem::path& path, const TokenCache& cache) {
  std::string header(kHeaderBytes, '\0');
  std::memcpy(header.data(), kMagic, sizeof kMagic);
  put(header, 8, kVersion);
  put(header, 12, kTokenBytes);
  put(header, 16, cache.key.tokenizer_hash);
  put(header, 24, cache.key.corpus_hash);
  put(header, 32, cache.document_count);
  put(header, 40, static_cast<std::uint64_t>(cache.tokens.size()));
  if (!path.parent_path().empty()) std::filesystem::create_directories(path.parent_path());
  io::AtomicFile file(path);
  file.write(header.data(), header.size());
  file.write(cache.tokens.data(), cache.tokens.size() * sizeof(std::int32_t));
  file.commit();
}

TokenCache read_token_cache(const std::filesystem::path& path, const TokenCacheKey& expected) {
  const auto name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(name + ": cannot open the token cache");
  std::array<char, kHeaderBytes> header{};
  in.read(header.data(), header.size());
  if (in.gcount() != static_cast<std::streamsize>(header.size())) {
    throw Error(name + ": not a token cache (shorter than its " + std::to_string(kHeaderBytes) + "-byte header)");
  }
  if (std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) throw Error(name + ": not a token cache (bad magic)");
  if (const auto version = get<std::uint32_t>(header, 8); version != kVersion) {
    throw Error(name + ": token cache version " + std::to_string(version) + ", expected " + std::to_string(kVersion));
  }
  if (const auto width = get<std::uint32_t>(header, 12); width != kTokenBytes) {
    throw Error(name + ": token cache field 'bytes per token' is " + std::to_string(width) + ", expected 4");
  }
  TokenCache cache;
  cache.key.tokenizer_hash = get<std::uint64_t>(header, 16);
  cache.key.corpus_hash = get<std::uint64_t>(header, 24);
  cache.document_count = get<std::uint64_t>(header, 32);
  const auto count = get<std::uint64_t>(header, 40);
  if (cache.key.tokenizer_hash != expected.tokenizer_hash) {
    throw Error(name + ": token cache field 'tokenizer hash' is " + hex(cache.key.tokenizer_hash) + ", expected " +
                hex(expected.tokenizer_hash) + " (made with another tokenizer)");
  }
  if (cache.key.corpus_hash != expected.corpus_hash) {
    throw Error(name + ": token cache field 'corpus hash' is " + hex(cache.key.corpus_hash) + ", expected " +
                hex(expected.corpus_hash) + " (made from another corpus)");
  }
  const auto size = std::filesystem::file_size(path);
  if (count > (size - kHeaderBytes) / kTokenBytes || size != kHeaderBytes + count * kTokenBytes) {
    throw Error(name + ": token cache field 'token count' is " + std::to_string(count) + " but the file has " +
                std::to_string(size) + " bytes (expected " + std::to_string(kHeaderBytes) + " + 4 per token)");
  }
  cache.tokens.resize(count);
  in.read(reinterpret_cast<char*>(cache.tokens.data()), static_cast<std::streamsize>(count * kTokenBytes));
  if (static_cast<std::uint64_t>(in.gcount()) != count * kTokenBytes) throw Error(name + ": token cache read error");
  return cache;
}

}  // namespace ladle::text
