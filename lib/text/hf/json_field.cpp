#include "lib/text/hf/json_field.h"

#include <limits>
#include <utility>

#include "lib/util/error.h"

namespace ladle::text::hf {

JsonField::JsonField(const nlohmann::json& root, const std::string& file)
    : value_(&root), file_(std::make_shared<const std::string>(file)) {}

JsonField::JsonField(const nlohmann::json& value, std::shared_ptr<const std::string> file, std::string path)
    : value_(&value), file_(std::move(file)), path_(std::move(path)) {}

std::string JsonField::where() const { return path_.empty() ? *file_ : *file_ + ": " + path_; }

void JsonField::fail(const std::string& what) const { throw Error(where() + ": " + what); }

const nlohmann::json& JsonField::require_object() const {
  if (!value_->is_object()) fail(std::string("expected an object, found ") + value_->type_name());
  return *value_;
}

std::optional<JsonField> JsonField::optional(const char* key) const {
  const auto& object = require_object();
  const auto found = object.find(key);
  if (found == object.end() || found->is_null()) return std::nullopt;
  return JsonField(*found, file_, path_.empty() ? key : path_ + "." + key);
}

JsonField JsonField::operator[](const char* key) const {
  auto member = optional(key);
  if (!member) fail(std::string("'") + key + "' is missing");
  return *member;
}

JsonField JsonField::at(std::size_t index) const {
  if (index >= size()) fail("expected at least " + std::to_string(index + 1) + " elements");
  return JsonField((*value_)[index], file_, path_ + "[" + std::to_string(index) + "]");
}

std::size_t JsonField::size() const {
  if (!value_->is_array()) fail(std::string("expected an array, found ") + value_->type_name());
  return value_->size();
}

std::string JsonField::string() const {
  if (!value_->is_string()) fail(std::string("expected a string, found ") + value_->type_name());
  return value_->get<std::string>();
}

bool JsonField::boolean() const {
  if (!value_->is_boolean()) fail(std::string("expected true or false, found ") + value_->type_name());
  return value_->get<bool>();
}

std::int64_t JsonField::integer() const {
  if (value_->is_number_unsigned() && value_->get<std::uint64_t>() <= std::numeric_limits<std::int64_t>::max()) {
    return static_cast<std::int64_t>(value_->get<std::uint64_t>());
  }
  if (!value_->is_number_integer()) fail(std::string("expected an integer, found ") + value_->dump());
  return value_->get<std::int64_t>();
}

std::uint32_t JsonField::token_id() const {
  const std::int64_t id = integer();
  if (id < 0 || id >= (std::int64_t{1} << 31)) fail("token id " + std::to_string(id) + " is outside [0, 2^31)");
  return static_cast<std::uint32_t>(id);
}

bool JsonField::boolean_or(const char* key, bool fallback) const {
  const auto member = optional(key);
  return member ? member->boolean() : fallback;
}

std::string JsonField::string_or(const char* key, const std::string& fallback) const {
  const auto member = optional(key);
  return member ? member->string() : fallback;
}

std::uint32_t JsonField::count_or(const char* key, std::uint32_t fallback) const {
  const auto member = optional(key);
  return member ? member->token_id() : fallback;
}

void JsonField::unsupported_type(const std::string& kind, const std::string& supported) const {
  fail(kind + " type '" + type() + "' is not supported (ladle supports: " + supported + ")");
}

}  // namespace ladle::text::hf
