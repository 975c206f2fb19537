// A config format declared once, key by key, next to the struct that holds it (defaults at the struct's
// declaration, as `double decay = 0.9999;`):
//
//   const Schema<EmaOptions>& ema_schema() {
//     static const auto schema = Schema<EmaOptions>("exponential moving average of the weights")
//         .field("decay", &EmaOptions::decay, in_closed(0, 1), "weight of the old average per update")
//         .field("every", &EmaOptions::every, at_least(1), "update every N optimizer steps")
//         .choice("anneal", &EmaOptions::anneal, {{"cos", Anneal::cos}, {"linear", Anneal::linear}}, "...")
//         .section("lr", &EmaOptions::lr, lr_schema())  // a nested struct, or std::optional of one
//         .keys_of(&EmaOptions::schedule, step_schedule_schema());  // a nested struct's keys beside these
//     return schema;
//   }
//
// From that declaration alone: reading a YAML mapping into the struct (keys not given keep the default-constructed
// struct's values), unknown keys rejected with a "did you mean" and the known keys, type and range errors naming
// the file and line or the --set argument ("train.yml:8: optimizer.lr: expected a number > 0, got -1"), the range
// checks of a struct filled in from C++ (check), the JSON dump of the run record (to_json) and the key reference
// for the documentation (reference; key_reference.h renders it). Checks that relate two keys stay with the
// config's own validate().
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lib/config/config_error.h"
#include "lib/config/config_source.h"
#include "lib/config/key_reference.h"
#include "lib/config/suggestion.h"
#include "lib/config/value_type.h"
#include "lib/config/yaml_value.h"

namespace ladle::config {

// The names a choice key accepts and the values they stand for, in the order messages list them.
template <class Value>
using Choices = std::vector<std::pair<std::string, Value>>;

// The name of `value` in `choices`; empty when it has none.
template <class Value>
const std::string& choice_name(const Choices<Value>& choices, const Value& value) {
  static const std::string none;
  for (const auto& [name, option] : choices) {
    if (option == value) return name;
  }
  return none;
}

template <class Value>
std::vector<std::string> choice_names(const Choices<Value>& choices) {
  std::vector<std::string> names;
  for (const auto& choice : choices) names.push_back(choice.first);
  return names;
}

// A key of an irregular shape read by a function of its own, with the same error formatting (YamlValue::fail).
template <class T>
struct CustomValue {
  std::string type;                                 // as the key reference shows it
  std::function<T(const YamlValue&)> read;          // the value, or throws through YamlValue::fail
  std::function<nlohmann::json(const T&)> to_json;  // as the run record keeps it
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// The type of the member `Member` (a pointer to a data member of S or of a base class of S) points to.
template <class S, class Member>
using member_type = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<S&>().*std::declval<Member>())>>;

template <class S>
class Schema {
 public:
  explicit Schema(std::string help) : help_(std::move(help)) {}

  // A key read as its member's type (value_type.h), within `range` for numbers and lists of numbers (narrowed to
  // what the member's type holds). `member` may point into a base class of S.
  template <class Member>
  Schema& field(const char* key, Member member, const ValueRange& range, const char* help) {
    using T = member_type<S, Member>;
    static_assert(ValueType<T>::ranged, "a range is for numbers and lists of numbers");
    return add_field<T>(key, member, ValueType<T>::natural_range().intersect(range), help);
  }
  template <class Member>
  Schema& field(const char* key, Member member, const char* help) {
    using T = member_type<S, Member>;
    return add_field<T>(key, member, ValueType<T>::natural_range(), help);
  }

  // A key whose value is one of the names in `choices` (for an enum, or a string with a fixed set of values).
  template <class Member, class Value = member_type<S, Member>>
  Schema& choice(const char* key, Member member, Choices<Value> choices, const char* help) {
    const auto names = choice_names(choices);
    Field entry;
    entry.key = key;
    entry.read = [member, choices, names](const YamlValue& value, S& into) {
      const std::string name = ValueType<std::string>::read(value, {});
      for (const auto& [option, option_value] : choices) {
        if (name == option) {
          into.*member = option_value;
          return;
        }
      }
      value.fail("expected one of " + comma_list(names) + ", got " + yaml_shown(value.node) +
                 did_you_mean(name, names));
    };
    entry.to_json = [member, choices](const S& from) -> nlohmann::json {
      const std::string& name = choice_name(choices, from.*member);
      return name.empty() ? nlohmann::json(nullptr) : nlohmann::json(name);
    };
    entry.check = [member, choices, names](const S& from, const std::string& full_key) {
      if (choice_name(choices, from.*member).empty()) {
        throw ConfigError(full_key, "expected one of " + comma_list(names) + ", got " + shown_choice(from.*member));
      }
    };
    entry.describe = [member, choices, names, help](const std::string& full_key, const S& defaults,
                                                    std::vector<KeyReference>& out) {
      out.push_back({full_key, "one of " + comma_list(names), "", choice_name(choices, defaults.*member), help, false});
    };
    fields_.push_back(std::move(entry));
    return *this;
  }

  // A nested mapping read by its own schema. A std::optional member is empty unless the key is given.
  template <class Member, class Nested>
  Schema& section(const char* key, Member member, const Schema<Nested>& schema) {
    using T = member_type<S, Member>;
    static_assert(std::is_same_v<T, Nested> || std::is_same_v<T, std::optional<Nested>>,
                  "the member holds the section's struct (or std::optional of it)");
    Field entry;
    entry.key = key;
    entry.read = [member, schema](const YamlValue& value, S& into) {
      if constexpr (is_optional<T>::value) {
        if (!(into.*member)) (into.*member).emplace();
        schema.read(value, *(into.*member));
      } else {
        schema.read(value, into.*member);
      }
    };
    entry.to_json = [member, schema](const S& from) -> nlohmann::json {
      if constexpr (is_optional<T>::value) {
        return (from.*member) ? schema.to_json(*(from.*member)) : nlohmann::json(nullptr);
      } else {
        return schema.to_json(from.*member);
      }
    };
    entry.check = [member, schema](const S& from, const std::string& full_key) {
      if constexpr (is_optional<T>::value) {
        if (from.*member) schema.check(*(from.*member), full_key);
      } else {
        schema.check(from.*member, full_key);
      }
    };
    entry.describe = [member, schema](const std::string& full_key, const S& defaults,
                                      std::vector<KeyReference>& out) {
      out.push_back({full_key, "a section", "", nullptr, schema.help(), true});
      // The defaults of the enclosing struct's member (EvolveConfig's search differs from CmaEsOptions{}).
      std::vector<KeyReference> nested;
      if constexpr (is_optional<T>::value) {
        nested = schema.reference(full_key, (defaults.*member).value_or(Nested{}));
      } else {
        nested = schema.reference(full_key, defaults.*member);
      }
      out.insert(out.end(), nested.begin(), nested.end());
    };
    fields_.push_back(std::move(entry));
    return *this;
  }

  // The keys of a nested struct, declared by its own schema, read as keys of this mapping: StepSchedule's
  // start_step and every sit beside EMA's decay (`ema: {decay: 0.999, every: 10}`), not in a section of their own.
  template <class Member, class Nested>
  Schema& keys_of(Member member, const Schema<Nested>& schema) {
    static_assert(std::is_same_v<member_type<S, Member>, Nested>, "the member holds the nested schema's struct");
    for (const auto& nested : schema.fields_) {
      Field entry;
      entry.key = nested.key;
      entry.read = [member, read = nested.read](const YamlValue& value, S& into) { read(value, into.*member); };
      entry.to_json = [member, to_json = nested.to_json](const S& from) { return to_json(from.*member); };
      entry.check = [member, check = nested.check](const S& from, const std::string& full_key) {
        check(from.*member, full_key);
      };
      entry.describe = [member, describe = nested.describe](const std::string& full_key, const S& defaults,
                                                            std::vector<KeyReference>& out) {
        describe(full_key, defaults.*member, out);
      };
      fields_.push_back(std::move(entry));
    }
    return *this;
  }

  // A key of an irregular shape (CustomValue says how it is read and dumped).
  template <class Member, class T = member_type<S, Member>>
  Schema& custom(const char* key, Member member, CustomValue<T> value_type, const char* help) {
    Field entry;
    entry.key = key;
    entry.read = [member, value_type](const YamlValue& value, S& into) { into.*member = value_type.read(value); };
    entry.to_json = [member, value_type](const S& from) { return value_type.to_json(from.*member); };
    entry.check = [](const S&, const std::string&) {};
    entry.describe = [member, value_type, help](const std::string& full_key, const S& defaults,
                                                std::vector<KeyReference>& out) {
      out.push_back({full_key, value_type.type, "", value_type.to_json(defaults.*member), help, false});
    };
    fields_.push_back(std::move(entry));
    return *this;
  }

  // Makes the key declared last required: a mapping read without it is an error naming it (a key whose default
  // would silently give a different model, such as a config.json's hidden_size).
  Schema& required() {
    fields_.back().required = true;
    return *this;
  }

  const std::string& help() const { return help_; }

  // Reads the mapping `value` into `into`, key by key; keys it does not give keep their values. Throws
  // ladle::Error naming the place and the key of the first unknown, repeated, invalid or missing required key.
  void read(const YamlValue& value, S& into) const { read_keys(value, into, nullptr); }

  // The same for a format whose other keys belong to someone else (a config.json keeps transformers' keys that
  // ladle does not interpret): keys the schema does not declare are skipped and returned, in document order.
  std::vector<std::string> read_known(const YamlValue& value, S& into) const {
    std::vector<std::string> unknown;
    read_keys(value, into, &unknown);
    return unknown;
  }
  // The whole document into a default-constructed S.
  S read(const ConfigSource& source) const {
    S result{};
    read(YamlValue{source.root(), "", source}, result);
    return result;
  }

  // Every key, sections nested, choices by name and paths as strings.
  nlohmann::json to_json(const S& value) const {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& field : fields_) object[field.key] = field.to_json(value);
    return object;
  }

  // Throws ConfigError naming the first key (under `prefix`) whose value is outside its declared range or choices.
  void check(const S& value, const std::string& prefix = "") const {
    for (const auto& field : fields_) field.check(value, joined(prefix, field.key));
  }

  // Every key under `prefix` with its type, range, default (a default-constructed S's) and help, in declaration
  // order, each section followed by its keys.
  std::vector<KeyReference> reference(const std::string& prefix = "") const { return reference(prefix, S{}); }
  // The same with the defaults of `defaults` (a section's, as the enclosing struct initialises it).
  std::vector<KeyReference> reference(const std::string& prefix, const S& defaults) const {
    std::vector<KeyReference> out;
    for (const auto& field : fields_) field.describe(joined(prefix, field.key), defaults, out);
    return out;
  }

 private:
  template <class>
  friend class Schema;  // keys_of takes over another schema's fields

  struct Field {
    std::string key;
    bool required = false;
    std::function<void(const YamlValue&, S&)> read;
    std::function<nlohmann::json(const S&)> to_json;
    std::function<void(const S&, const std::string&)> check;
    std::function<void(const std::string&, const S&, std::vector<KeyReference>&)> describe;
  };

  void read_keys(const YamlValue& value, S& into, std::vector<std::string>* unknown) const {
    if (!value.node.IsNull() && !value.node.IsMap()) {
      value.fail("expected a mapping of keys, got " + yaml_shown(value.node));
    }
    std::set<std::string> seen;
    for (const auto& item : value.node) {
      const std::string name = item.first.as<std::string>();
      const YamlValue member = value.member(item);
      const Field* field = find(name);
      if (field == nullptr && unknown != nullptr) {
        unknown->push_back(name);
        continue;
      }
      if (field == nullptr) {
        member.fail("unknown key" + did_you_mean(name, keys()) + "; known keys: " + comma_list(keys()));
      }
      if (!seen.insert(name).second) member.fail("given twice");
      field->read(member, into);
    }
    for (const auto& field : fields_) {
      if (field.required && seen.count(field.key) == 0) {
        YamlValue{YAML::Node(), joined(value.key, field.key), value.source}.fail("a required key is missing");
      }
    }
  }

  template <class T, class Member>
  Schema& add_field(const char* key, Member member, const ValueRange& range, const char* help) {
    Field entry;
    entry.key = key;
    entry.read = [member, range](const YamlValue& value, S& into) { into.*member = ValueType<T>::read(value, range); };
    entry.to_json = [member](const S& from) { return ValueType<T>::to_json(from.*member); };
    entry.check = [member, range](const S& from, const std::string& full_key) {
      ValueType<T>::check(from.*member, range, full_key);
    };
    entry.describe = [member, range, help](const std::string& full_key, const S& defaults,
                                           std::vector<KeyReference>& out) {
      out.push_back(
          {full_key, ValueType<T>::name(), range.text(), ValueType<T>::to_json(defaults.*member), help, false});
    };
    fields_.push_back(std::move(entry));
    return *this;
  }

  template <class Value>
  static std::string shown_choice(const Value& value) {
    if constexpr (std::is_convertible_v<Value, std::string>) {
      return "'" + std::string(value) + "'";
    } else {
      return "value " + std::to_string(static_cast<long long>(value));
    }
  }

  static std::string joined(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
  }

  const Field* find(const std::string& name) const {
    for (const auto& field : fields_) {
      if (field.key == name) return &field;
    }
    return nullptr;
  }

  std::vector<std::string> keys() const {
    std::vector<std::string> names;
    for (const auto& field : fields_) names.push_back(field.key);
    return names;
  }

  std::string help_;
  std::vector<Field> fields_;
};

}  // namespace ladle::config
