#include "lib/text/corpus_tokens.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <string_view>
#include <thread>

#include "lib/io/text_file.h"
#include "lib/log/log.h"
#include "lib/text/whitespace.h"
#include "lib/util/error.h"
#include "lib/util/progress_line.h"

namespace ladle::text {
namespace {

// The documents of the corpus text, each its non-blank lines joined by "\n" (without "\r").
std::vector<std::string> split_documents(std::string_view text) {
  std::vector<std::string> documents;
  std::string current;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    auto line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_blank(line)) {
      if (!current.empty()) documents.push_back(std::move(current));
      current.clear();
    } else {
      if (!current.empty()) current += '\n';
      current.append(line);
    }
    start = end + 1;
  }
  if (!current.empty()) documents.push_back(std::move(current));
  return documents;
}

std::vector<std::int32_t> encode_document(const std::string& document, const Tokenizer& tokenizer, std::int64_t eos,
                                          std::int64_t vocab_size) {
  const auto ids = tokenizer.encode(document);
  std::vector<std::int32_t> narrowed;
  narrowed.reserve(ids.size() + 1);
  for (const auto id : ids) {
    if (id < 0 || id >= vocab_size) {
      throw Error("corpus: the tokenizer returned id " + std::to_string(id) + " outside [0, " +
                  std::to_string(vocab_size) + ")");
    }
    narrowed.push_back(static_cast<std::int32_t>(id));
  }
  narrowed.push_back(static_cast<std::int32_t>(eos));
  return narrowed;
}

}  // namespace

TokenCache tokenize_corpus(const std::filesystem::path& corpus, const Tokenizer& tokenizer, std::size_t threads) {
  const auto eos = tokenizer.eos_id();
  if (!eos) throw Error(corpus.string() + ": the tokenizer has no eos token to end documents with");
  const auto vocab_size = tokenizer.vocab_size();
  if (vocab_size > std::int64_t{1} << 31) throw Error("corpus: vocabularies over 2^31 ids do not fit the int32 cache");

  const auto text = io::read_text_file(corpus, io::kNoSizeLimit);
  const auto corpus_hash = fnv1a_64(text);
  const auto documents = split_documents(text);
  if (documents.empty()) throw Error(corpus.string() + ": the corpus holds no text");
  std::uint64_t total_bytes = 0;
  for (const auto& document : documents) total_bytes += document.size();

  std::vector<std::vector<std::int32_t>> encoded(documents.size());
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  ProgressOptions progress_options;
  progress_options.unit = ProgressUnit::bytes;
  ProgressLine progress("tokenize " + corpus.filename().string(), total_bytes, progress_options);
  auto work = [&] {
    try {
      for (auto i = next++; i < documents.size(); i = next++) {
        encoded[i] = encode_document(documents[i], tokenizer, *eos, vocab_size);
        progress.advance(documents[i].size());
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = documents.size();
    }
  };
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, documents.size());
  std::vector<std::thread> workers;
  for (std::size_t t = 1; t < threads; ++t) workers.emplace_back(work);
  work();
  for (auto& worker : workers) worker.join();
  if (failure) std::rethrow_exception(failure);
  progress.finish();

  TokenCache result;
  result.key.corpus_hash = corpus_hash;
  result.document_count = documents.size();
  std::size_t count = 0;
  for (const auto& ids : encoded) count += ids.size();
  result.tokens.reserve(count);
  for (auto& ids : encoded) {
    result.tokens.insert(result.tokens.end(), ids.begin(), ids.end());
    std::vector<std::int32_t>().swap(ids);
  }
  LADLE_LOG(info) << corpus.string() << ": " << documents.size() << " documents, " << result.tokens.size() << " tokens";
  return result;
}

TokenCache load_or_tokenize_corpus(const CorpusCacheOptions& options, const Tokenizer& tokenizer) {
  const TokenCacheKey key{file_content_hash(options.tokenizer_file), file_content_hash(options.corpus)};
  // The corpus is hashed again as it is read: a change in between must not be cached under the old hash.
  if (std::filesystem::exists(options.cache)) {
    try {
      auto cache = read_token_cache(options.cache, key);
      LADLE_LOG(info) << options.cache.string() << ": " << cache.tokens.size() << " cached tokens of "
                      << options.corpus.string();
      return cache;
    } catch (const Error& error) {
      LADLE_LOG(warning) << "tokenizing the corpus again: " << error.what();
    }
  }
  auto cache = tokenize_corpus(options.corpus, tokenizer, options.threads);
  cache.key.tokenizer_hash = key.tokenizer_hash;
  write_token_cache(options.cache, cache);
  return cache;
}

}  // namespace ladle::text
