#include "lib/text/jinja/json_value.h"

#include "lib/util/error.h"

namespace ladle::text::jinja {
namespace {

Value from_json_at(const nlohmann::ordered_json& json, int depth) {
  if (depth > kMaxValueNesting) {
    throw Error("JSON value nested deeper than " + std::to_string(kMaxValueNesting) + " levels");
  }
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null: return Value(None{});
    case nlohmann::ordered_json::value_t::boolean: return Value(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(json.get<std::int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto value = json.get<std::uint64_t>();
      if (value > static_cast<std::uint64_t>(INT64_MAX)) throw Error("JSON integer " + json.dump() + " does not fit 64 bits");
      return Value(static_cast<std::int64_t>(value));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(json.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List list;
      for (const auto& item : json) list.push_back(from_json_at(item, depth + 1));
      return Value(std::move(list));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict dict;
      for (const auto& [key, item] : json.items()) dict.set(key, from_json_at(item, depth + 1));
      return Value(std::move(dict));
    }
    default: throw Error("JSON value of type " + std::string(json.type_name()) + " has no template value");
  }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) { return from_json_at(json, 0); }

}  // namespace ladle::text::jinja
