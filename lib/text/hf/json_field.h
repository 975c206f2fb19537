// JsonField: one value of a tokenizer file together with where it sits in it ("tokenizer.json: model.merges[3]"),
// so the readers that walk these files (hostile input) name the exact place in every error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ladle::text::hf {

class JsonField {
 public:
  // The root of a parsed file; `file` names it in errors (e.g. "data/qwen3/tokenizer.json").
  JsonField(const nlohmann::json& root, const std::string& file);

  const nlohmann::json& json() const { return *value_; }
  // "FILE: PATH" (or "FILE" at the root), the prefix of every error about this value.
  std::string where() const;
  // Throws ladle::Error "FILE: PATH: what".
  [[noreturn]] void fail(const std::string& what) const;

  // The member `key` of an object; throws when this is not an object or the member is missing or null.
  JsonField operator[](const char* key) const;
  // The member `key`, or nullopt when it is missing or null; throws when this is not an object.
  std::optional<JsonField> optional(const char* key) const;
  // Element `index` of an array (index < size()).
  JsonField at(std::size_t index) const;
  // Elements of an array; throws when this is not an array.
  std::size_t size() const;

  std::string string() const;     // throws unless a string
  bool boolean() const;           // throws unless true or false
  std::int64_t integer() const;   // throws unless an integer
  std::uint32_t token_id() const; // throws unless an integer in [0, 2^31)

  bool is_object() const { return value_->is_object(); }
  bool is_array() const { return value_->is_array(); }
  bool is_string() const { return value_->is_string(); }

  // Optional members with the value used when they are missing or null.
  bool boolean_or(const char* key, bool fallback) const;
  std::string string_or(const char* key, const std::string& fallback) const;
  std::uint32_t count_or(const char* key, std::uint32_t fallback) const;

  // The object's "type" member, naming a component ("Split", "BPE").
  std::string type() const { return (*this)["type"].string(); }
  // Throws "FILE: PATH: KIND type 'T' is not supported (ladle supports: LIST)".
  [[noreturn]] void unsupported_type(const std::string& kind, const std::string& supported) const;

 private:
  JsonField(const nlohmann::json& value, std::shared_ptr<const std::string> file, std::string path);
  const nlohmann::json& require_object() const;

  const nlohmann::json* value_;
  std::shared_ptr<const std::string> file_;
  std::string path_;
};

}  // namespace ladle::text::hf
