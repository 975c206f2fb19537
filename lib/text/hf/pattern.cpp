#include "lib/text/hf/pattern.h"

#include <oniguruma.h>

#include <mutex>

#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::hf {
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

}  // namespace

struct Pattern::Compiled {
  regex_t* regex = nullptr;
  ~Compiled() {
    const std::lock_guard<std::mutex> lock(compile_mutex());
    onig_free(regex);
  }
};

Pattern::Pattern(const JsonField& field) {
  if (!field.is_object()) field.fail("expected {\"String\": ...} or {\"Regex\": ...}");
  if (const auto literal = field.optional("String")) {
    literal_ = literal->string();
    if (literal_.empty()) literal->fail("the pattern is empty");
    require_valid_utf8(literal_, literal->where());
    return;
  }
  const auto regex = field.optional("Regex");
  if (!regex) field.fail("expected {\"String\": ...} or {\"Regex\": ...}");
  *this = Pattern::regex(regex->string(), regex->where());
}

Pattern Pattern::regex(const std::string& source, const std::string& where) {
  require_valid_utf8(source, where);
  Pattern pattern;
  pattern.compiled_ = std::make_unique<Compiled>();
  OnigErrorInfo info;
  const auto* begin = reinterpret_cast<const OnigUChar*>(source.data());
  int status = 0;
  {
    const std::lock_guard<std::mutex> lock(compile_mutex());
    status = onig_new(&pattern.compiled_->regex, begin, begin + source.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                      ONIG_SYNTAX_DEFAULT, &info);
  }
  if (status != ONIG_NORMAL) {
    OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(message, status, &info);
    throw Error(where + ": the regular expression does not compile: " + reinterpret_cast<char*>(message));
  }
  return pattern;
}

Pattern Pattern::literal(std::string text) {
  Pattern pattern;
  pattern.literal_ = std::move(text);
  return pattern;
}

Pattern::~Pattern() = default;
Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;

std::vector<ByteRange> Pattern::find_all(std::string_view text) const {
  std::vector<ByteRange> matches;
  if (!compiled_) {
    for (std::size_t at = text.find(literal_); at != std::string_view::npos; at = text.find(literal_, at)) {
      matches.emplace_back(at, at + literal_.size());
      at += literal_.size();
    }
    return matches;
  }
  std::unique_ptr<OnigRegion, RegionDeleter> region(onig_region_new());
  const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = begin + text.size();
  std::size_t resume = 0;
  bool have_previous = false;
  std::size_t previous_end = 0;
  while (resume <= text.size()) {
    const int found = onig_search(compiled_->regex, begin, end, begin + resume, end, region.get(), ONIG_OPTION_NONE);
    if (found < 0) break;
    const auto start = static_cast<std::size_t>(region->beg[0]);
    const auto stop = static_cast<std::size_t>(region->end[0]);
    if (start == stop && have_previous && previous_end == stop) {
      resume += resume < text.size() ? utf8_length(static_cast<unsigned char>(text[resume])) : 1;
      continue;
    }
    matches.emplace_back(start, stop);
    resume = stop;
    have_previous = true;
    previous_end = stop;
  }
  return matches;
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  out.reserve(text.size());
  std::size_t copied = 0;
  for (const auto& [start, stop] : find_all(text)) {
    out.append(text.substr(copied, start - copied));
    out.append(content);
    copied = stop;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace ladle::text::hf
