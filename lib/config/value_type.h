// How each C++ type of a config key is read from YAML, written to JSON and named in messages and the key
// reference. Numbers (and lists of numbers, element by element) are checked against the key's ValueRange, which
// Schema::field narrows to what the C++ type can hold (natural_range: a size_t is >= 0).
//
//   bool                          true or false
//   integers                      a whole number            double        a finite number
//   std::string                   a string (null: empty)    path          a path, relative ones resolved
//   std::vector<T>                a list (null: empty)      std::array<T, N>   a list of exactly N
//   std::map<std::string, T>      a mapping of names to T   nlohmann::json     a mapping, kept as JSON
//   std::optional<T>              null (or not given): none, else a T
#pragma once

#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "lib/config/config_error.h"
#include "lib/config/yaml_value.h"

namespace ladle::config {

template <class T, class Enable = void>
struct ValueType;  // a key of another type needs Schema::choice, Schema::section or Schema::custom

// Throws ConfigError "<key>: expected <what> <range>, got <value>" unless the range holds the value.
void check_in_range(double value, const std::string& what, const ValueRange& range, const std::string& key);

template <>
struct ValueType<bool> {
  static constexpr bool ranged = false;
  static std::string name() { return "true or false"; }
  static std::string plural() { return "true/false values"; }
  static ValueRange natural_range() { return {}; }
  static bool read(const YamlValue& value, const ValueRange&) {
    bool result = false;
    if (!value.is_plain_scalar() || !YAML::convert<bool>::decode(value.node, result)) value.expected(name());
    return result;
  }
  static nlohmann::json to_json(bool value) { return value; }
  static void check(bool, const ValueRange&, const std::string&) {}
};

template <class T>
struct ValueType<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static constexpr bool ranged = true;
  static std::string name() { return "a whole number"; }
  static std::string plural() { return "whole numbers"; }
  // What T holds, where that is narrower than the 64-bit integers YAML is read as.
  static ValueRange natural_range() {
    ValueRange range;
    if (std::is_unsigned_v<T>) range.min = 0;
    if (sizeof(T) < sizeof(long long)) {
      range.min = static_cast<double>(std::numeric_limits<T>::lowest());
      range.max = static_cast<double>(std::numeric_limits<T>::max());
    }
    return range;
  }
  static T read(const YamlValue& value, const ValueRange& range) {
    long long result = 0;
    if (!value.is_plain_scalar() || !YAML::convert<long long>::decode(value.node, result) ||
        !range.contains(static_cast<double>(result))) {
      value.expected(name(), range);
    }
    return static_cast<T>(result);
  }
  static nlohmann::json to_json(T value) { return value; }
  static void check(T value, const ValueRange& range, const std::string& key) {
    check_in_range(static_cast<double>(value), name(), range, key);
  }
};

template <>
struct ValueType<double> {
  static constexpr bool ranged = true;
  static std::string name() { return "a number"; }
  static std::string plural() { return "numbers"; }
  static ValueRange natural_range() { return {}; }
  static double read(const YamlValue& value, const ValueRange& range) {
    double result = 0;
    if (!value.is_plain_scalar() || !YAML::convert<double>::decode(value.node, result) || !std::isfinite(result) ||
        !range.contains(result)) {
      value.expected(name(), range);
    }
    return result;
  }
  static nlohmann::json to_json(double value) { return value; }
  static void check(double value, const ValueRange& range, const std::string& key) {
    check_in_range(value, name(), range, key);
  }
};

template <>
struct ValueType<std::string> {
  static constexpr bool ranged = false;
  static std::string name() { return "a string"; }
  static std::string plural() { return "strings"; }
  static ValueRange natural_range() { return {}; }
  static std::string read(const YamlValue& value, const ValueRange&) {
    if (value.node.IsNull()) return "";
    if (!value.node.IsScalar()) value.expected(name());
    return value.node.Scalar();
  }
  static nlohmann::json to_json(const std::string& value) { return value; }
  static void check(const std::string&, const ValueRange&, const std::string&) {}
};

template <>
struct ValueType<std::filesystem::path> {
  static constexpr bool ranged = false;
  static std::string name() { return "a path"; }
  static std::string plural() { return "paths"; }
  static ValueRange natural_range() { return {}; }
  // Relative to the config file's folder, or to the current directory for a value given with --set.
  static std::filesystem::path read(const YamlValue& value, const ValueRange& range) {
    return value.resolved(ValueType<std::string>::read(value, range));
  }
  static nlohmann::json to_json(const std::filesystem::path& value) { return value.string(); }
  static void check(const std::filesystem::path&, const ValueRange&, const std::string&) {}
};

template <class T>
struct ValueType<std::vector<T>> {
  static constexpr bool ranged = ValueType<T>::ranged;
  static std::string name() { return "a list of " + ValueType<T>::plural(); }
  static std::string plural() { return "lists of " + ValueType<T>::plural(); }
  static ValueRange natural_range() { return ValueType<T>::natural_range(); }
  static std::vector<T> read(const YamlValue& value, const ValueRange& range) {
    if (value.node.IsNull()) return {};
    if (!value.node.IsSequence()) value.expected(name());
    std::vector<T> result;
    for (std::size_t i = 0; i < value.node.size(); ++i) result.push_back(ValueType<T>::read(value.item(i), range));
    return result;
  }
  static nlohmann::json to_json(const std::vector<T>& value) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : value) list.push_back(ValueType<T>::to_json(item));
    return list;
  }
  static void check(const std::vector<T>& value, const ValueRange& range, const std::string& key) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      ValueType<T>::check(value[i], range, key + "[" + std::to_string(i) + "]");
    }
  }
};

template <class T, std::size_t N>
struct ValueType<std::array<T, N>> {
  static constexpr bool ranged = ValueType<T>::ranged;
  static std::string name() { return "a list of " + std::to_string(N) + " " + ValueType<T>::plural(); }
  static std::string plural() { return "lists of " + std::to_string(N) + " " + ValueType<T>::plural(); }
  static ValueRange natural_range() { return ValueType<T>::natural_range(); }
  static std::array<T, N> read(const YamlValue& value, const ValueRange& range) {
    if (!value.node.IsSequence() || value.node.size() != N) value.expected(name());
    std::array<T, N> result;
    for (std::size_t i = 0; i < N; ++i) result[i] = ValueType<T>::read(value.item(i), range);
    return result;
  }
  static nlohmann::json to_json(const std::array<T, N>& value) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : value) list.push_back(ValueType<T>::to_json(item));
    return list;
  }
  static void check(const std::array<T, N>& value, const ValueRange& range, const std::string& key) {
    for (std::size_t i = 0; i < N; ++i) ValueType<T>::check(value[i], range, key + "[" + std::to_string(i) + "]");
  }
};

template <class T>
struct ValueType<std::map<std::string, T>> {
  static constexpr bool ranged = ValueType<T>::ranged;
  static std::string name() { return "a mapping of names to " + ValueType<T>::plural(); }
  static std::string plural() { return "mappings of names to " + ValueType<T>::plural(); }
  static ValueRange natural_range() { return ValueType<T>::natural_range(); }
  static std::map<std::string, T> read(const YamlValue& value, const ValueRange& range) {
    if (value.node.IsNull()) return {};
    if (!value.node.IsMap()) value.expected(name());
    std::map<std::string, T> result;
    for (const auto& item : value.node) {
      const std::string name = item.first.as<std::string>();
      result[name] = ValueType<T>::read(value.member(item), range);
    }
    return result;
  }
  static nlohmann::json to_json(const std::map<std::string, T>& value) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& [name, item] : value) object[name] = ValueType<T>::to_json(item);
    return object;
  }
  static void check(const std::map<std::string, T>& value, const ValueRange& range, const std::string& key) {
    for (const auto& [name, item] : value) ValueType<T>::check(item, range, key + "." + name);
  }
};

// A mapping kept as JSON for a reader elsewhere (a model's config.json fields); null when not given.
template <>
struct ValueType<nlohmann::json> {
  static constexpr bool ranged = false;
  static std::string name() { return "a mapping"; }
  static std::string plural() { return "mappings"; }
  static ValueRange natural_range() { return {}; }
  static nlohmann::json read(const YamlValue& value, const ValueRange&) {
    if (!value.node.IsNull() && !value.node.IsMap()) value.expected(name());
    return yaml_to_json(value.node);
  }
  static nlohmann::json to_json(const nlohmann::json& value) { return value; }
  static void check(const nlohmann::json&, const ValueRange&, const std::string&) {}
};

// A value that may be absent: null reads as none and none is written as null (config.json's "head_dim": null).
template <class T>
struct ValueType<std::optional<T>> {
  static constexpr bool ranged = ValueType<T>::ranged;
  static std::string name() { return ValueType<T>::name() + " or null"; }
  static std::string plural() { return ValueType<T>::plural() + " or nulls"; }
  static ValueRange natural_range() { return ValueType<T>::natural_range(); }
  static std::optional<T> read(const YamlValue& value, const ValueRange& range) {
    if (value.node.IsNull()) return std::nullopt;
    return ValueType<T>::read(value, range);
  }
  static nlohmann::json to_json(const std::optional<T>& value) {
    return value ? ValueType<T>::to_json(*value) : nlohmann::json(nullptr);
  }
  static void check(const std::optional<T>& value, const ValueRange& range, const std::string& key) {
    if (value) ValueType<T>::check(*value, range, key);
  }
};

}  // namespace ladle::config
