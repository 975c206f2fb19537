// Python's json.dumps over template values: the tojson filter as Hugging Face's chat templates define it
// (transformers chat_template_utils: json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
// sort_keys=sort_keys)), not Jinja's own tojson, which escapes <, >, & and ' for HTML.
#pragma once

#include <optional>
#include <string>

#include "lib/text/jinja/string_size_limit.h"
#include "lib/text/jinja/value.h"

namespace ladle::text::jinja {

struct JsonDumpOptions {
  bool ensure_ascii = false;         // escape every non-ASCII code point as \uXXXX (HF's default: false)
  std::optional<std::string> indent;  // unset: one line; else each level indented by this string (an int n: n spaces)
  // Between items and between a key and its value; json.dumps's default: ", " and ": " on one line, "," and ": "
  // with an indent.
  std::optional<std::pair<std::string, std::string>> separators;
  bool sort_keys = false;  // keys in code point order instead of insertion order
  // The longest output: an indent or a separator is written once per item, so a small value can ask for much.
  std::size_t max_bytes = kMaxStringBytes;
};

// Throws ladle::Error for what json.dumps cannot write (undefined, a namespace, a function).
std::string json_dumps(const Value& value, const JsonDumpOptions& options = {});

}  // namespace ladle::text::jinja
