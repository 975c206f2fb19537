#include "lib/text/oniguruma_regex.h"

#include <oniguruma.h>

#include <mutex>

#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

// Oniguruma (doc/FAQ, "Thread safe"): threads must not create or free regex objects at the same time, and its
// global tables are set up once before the first one. Searches of one regex from several threads are safe (Rust's
// onig crate shares a Regex between threads the same way, with a lock around compilation only).
std::mutex& compile_mutex() {
  static std::mutex mutex;
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
  return mutex;
}

struct RegionDeleter {
  void operator()(OnigRegion* region) const { onig_region_free(region, 1); }
};

struct MatchParamDeleter {
  void operator()(OnigMatchParam* param) const { onig_free_match_param(param); }
};

std::string error_text(int status, OnigErrorInfo* info) {
  OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
  onig_error_code_to_str(message, status, info);
  return reinterpret_cast<char*>(message);
}

}  // namespace

struct OnigurumaRegex::Compiled {
  regex_t* regex = nullptr;
  ~Compiled() {
    const std::lock_guard<std::mutex> lock(compile_mutex());
    onig_free(regex);
  }
};

OnigurumaRegex::OnigurumaRegex(const std::string& source, const std::string& where, RegexSyntax syntax)
    : compiled_(std::make_unique<Compiled>()), where_(where) {
  require_valid_utf8(source, where);
  OnigErrorInfo info;
  const auto* begin = reinterpret_cast<const OnigUChar*>(source.data());
  int status = 0;
  {
    const std::lock_guard<std::mutex> lock(compile_mutex());
    status = onig_new(&compiled_->regex, begin, begin + source.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                      syntax == RegexSyntax::python ? ONIG_SYNTAX_PYTHON : ONIG_SYNTAX_DEFAULT, &info);
  }
  if (status != ONIG_NORMAL)
    throw Error(where + " is not a valid regular expression: " + error_text(status, &info));
}

OnigurumaRegex::~OnigurumaRegex() = default;
OnigurumaRegex::OnigurumaRegex(OnigurumaRegex&&) noexcept = default;
OnigurumaRegex& OnigurumaRegex::operator=(OnigurumaRegex&&) noexcept = default;

std::optional<ByteRange> OnigurumaRegex::search(std::string_view text, std::size_t from) const {
  // One region a thread, reused: a tokenizer searches once a word.
  thread_local const std::unique_ptr<OnigRegion, RegionDeleter> region(onig_region_new());
  const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = begin + text.size();
  const int found = onig_search(compiled_->regex, begin, end, begin + from, end, region.get(), ONIG_OPTION_NONE);
  if (found == ONIG_MISMATCH) return std::nullopt;
  if (found < 0) throw Error(where_ + ": the regular expression gave up on a text: " + error_text(found, nullptr));
  return ByteRange{static_cast<std::size_t>(region->beg[0]), static_cast<std::size_t>(region->end[0])};
}

bool OnigurumaRegex::found_in(std::string_view text) const { return search(text, 0).has_value(); }

bool OnigurumaRegex::matches_at_start(std::string_view text) const {
  std::unique_ptr<OnigMatchParam, MatchParamDeleter> param(onig_new_match_param());
  onig_initialize_match_param(param.get());
  onig_set_retry_limit_in_match_of_match_param(param.get(), kMaxMatchBacktracking);
  const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
  const int length = onig_match_with_param(compiled_->regex, begin, begin + text.size(), begin, nullptr,
                                           ONIG_OPTION_NONE, param.get());
  if (length >= 0) return true;
  if (length == ONIG_MISMATCH) return false;
  throw Error(where_ + ": matching '" + std::string(text) + "' takes more than " +
              std::to_string(kMaxMatchBacktracking) + " backtracking steps (" + error_text(length, nullptr) +
              "); simplify the expression");
}

}  // namespace ladle::text
