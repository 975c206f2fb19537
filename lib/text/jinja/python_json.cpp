#include "lib/text/jinja/python_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lib/text/utf8.h"
#include "lib/util/error.h"

namespace ladle::text::jinja {
namespace {

// Checked as it grows (by at most 12 bytes a code point), since an escaped string can be six times its text.
void append_escaped(std::string& out, const std::string& text, bool ensure_ascii, std::size_t max_bytes) {
  out += '"';
  for (const char32_t c : utf8_to_code_points(text)) {
    require_string_fits(out.size(), "tojson", max_bytes);
    char buffer[16];
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
      if (c >= 0x10000) {  // a UTF-16 surrogate pair, as json.dumps writes it
        const char32_t v = c - 0x10000;
        std::snprintf(buffer, sizeof buffer, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
      }
      out += buffer;
    } else {
      out += code_points_to_utf8(std::u32string(1, c));
    }
  }
  out += '"';
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonDumpOptions& options) : options_(options) {
    if (options.separators) {
      item_separator_ = options.separators->first;
      key_separator_ = options.separators->second;
    } else {
      item_separator_ = options.indent ? "," : ", ";
      key_separator_ = ": ";
    }
  }

  void write(const Value& value, int depth) {
    // Python's json.dumps raises RecursionError on deep nesting; a template cannot build cycles.
    if (depth > kMaxValueNesting) {
      throw Error("tojson: the value is nested deeper than " + std::to_string(kMaxValueNesting) + " levels");
    }
    switch (value.kind()) {
      case Value::Kind::none:
        append("null");
        return;
      case Value::Kind::boolean:
        append(value.as_bool() ? "true" : "false");
        return;
      case Value::Kind::integer:
        append(std::to_string(value.as_int()));
        return;
      case Value::Kind::floating: write_float(value.as_double()); return;
      case Value::Kind::string:
        append_escaped(out, value.as_string(), options_.ensure_ascii, options_.max_bytes);
        return;
      case Value::Kind::list: write_list(value.as_list(), depth); return;
      case Value::Kind::dict: write_dict(value.as_dict(), depth); return;
      default: throw Error("tojson: Object of type " + type_name(value) + " is not JSON serializable");
    }
  }

  std::string out;

 private:
  // Every piece goes through here: an indent or a separator can be long, and is written once per item.
  void append(std::string_view piece) {
    require_string_fits(out.size() + piece.size(), "tojson", options_.max_bytes);
    out += piece;
  }
  void append(char c) { append(std::string_view(&c, 1)); }

  void write_float(double f) {
    if (std::isnan(f)) {
      append("NaN");
    } else if (std::isinf(f)) {
      append(f < 0 ? "-Infinity" : "Infinity");
    } else {
      append(float_repr(f));
    }
  }

  void newline(int depth) {
    if (!options_.indent) return;
    append('\n');
    for (int i = 0; i < depth; ++i) append(*options_.indent);
  }

  void write_list(const List& list, int depth) {
    if (list.empty()) {
      append("[]");
      return;
    }
    append('[');
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i > 0) append(item_separator_);
      newline(depth + 1);
      write(list[i], depth + 1);
    }
    newline(depth);
    append(']');
  }

  void write_dict(const Dict& dict, int depth) {
    if (dict.size() == 0) {
      append("{}");
      return;
    }
    std::vector<const Dict::Item*> items;
    for (const auto& item : dict.items()) items.push_back(&item);
    if (options_.sort_keys) {
      std::stable_sort(items.begin(), items.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
    }
    append('{');
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i > 0) append(item_separator_);
      newline(depth + 1);
      append_escaped(out, items[i]->first, options_.ensure_ascii, options_.max_bytes);
      append(key_separator_);
      write(items[i]->second, depth + 1);
    }
    newline(depth);
    append('}');
  }

  const JsonDumpOptions& options_;
  std::string item_separator_;
  std::string key_separator_;
};

}  // namespace

std::string json_dumps(const Value& value, const JsonDumpOptions& options) {
  JsonWriter writer(options);
  writer.write(value, 0);
  return std::move(writer.out);
}

}  // namespace ladle::text::jinja
