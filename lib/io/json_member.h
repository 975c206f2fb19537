// A member of a JSON object read as one type, or nothing when the object lacks it or holds another type there.
// nlohmann's value(key, default) and get<T>() throw type_error on a wrong type, which would escape as an internal
// error; files from outside, and ladle's own state files read back after a crash or an edit, need the mismatch
// handled where it is read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace ladle::io {

// T is std::string, bool, an integer type (integral JSON numbers only) or a floating-point type (any number).
template <class T>
std::optional<T> json_member(const nlohmann::json& object, const std::string& key) {
  if (!object.is_object()) return std::nullopt;
  const auto found = object.find(key);
  if (found == object.end()) return std::nullopt;
  bool fits = false;
  if constexpr (std::is_same_v<T, std::string>) {
    fits = found->is_string();
  } else if constexpr (std::is_same_v<T, bool>) {
    fits = found->is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    fits = found->is_number_integer();
  } else {
    static_assert(std::is_floating_point_v<T>, "json_member reads strings, booleans and numbers");
    fits = found->is_number();
  }
  if (!fits) return std::nullopt;
  return found->get<T>();
}

}  // namespace ladle::io
