// Plain-text pretraining data as one stream of token ids: documents encoded one by one, each followed by eos,
// so fixed-length blocks can pack them (token_block_dataset.h). Tokenized once and cached (token_cache.h).
#pragma once

#include <cstddef>
#include <filesystem>

#include "lib/text/token_cache.h"
#include "lib/text/tokenizer.h"

namespace ladle::text {

// Token ids of a corpus in scripts/data's layout: UTF-8, one paragraph per line, documents separated by blank
// (empty or whitespace-only) lines. A document is its lines joined by "\n", encoded in one call, then eos. The
// work is split by document over `threads` threads (0 = all cores); the ids do not depend on the split. Shows a
// progress line. The returned key's corpus hash is set, its tokenizer hash left 0. Throws ladle::Error when the
// file cannot be read or holds no text, the tokenizer has no eos, or it returns an id outside [0, vocab_size()).
TokenCache tokenize_corpus(const std::filesystem::path& corpus, const Tokenizer& tokenizer, std::size_t threads = 0);

struct CorpusCacheOptions {
  std::filesystem::path corpus;          // the plain-text corpus (layout above)
  std::filesystem::path tokenizer_file;  // the tokenizer's model file; its hash keys the cache
  std::filesystem::path cache;           // the cache file to read, or write when missing or stale
  std::size_t threads = 0;               // encoding threads when tokenizing (0 = all cores)
};

// The corpus's tokens from options.cache when its key matches the tokenizer file and corpus; otherwise (no
// cache, another tokenizer or corpus, a damaged file: the reason is logged) tokenized now and written to
// options.cache atomically. `tokenizer` must be the one loaded from options.tokenizer_file.
TokenCache load_or_tokenize_corpus(const CorpusCacheOptions& options, const Tokenizer& tokenizer);

}  // namespace ladle::text
