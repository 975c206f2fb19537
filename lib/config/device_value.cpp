#include "lib/config/device_value.h"

#include <cctype>

namespace ladle::config {

bool is_device_name(const std::string& name) {
  if (name == "cpu" || name == "cuda" || name == "auto") return true;
  const std::string prefix = "cuda:";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string index = name.substr(prefix.size());
  // Digits only, no leading zero (torch's own parser refuses "cuda:01"), and few enough to be an int.
  if (index.size() > 6 || (index.size() > 1 && index[0] == '0')) return false;
  for (const char c : index) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string device_name_expected(const std::string& name) {
  return "expected cpu, cuda, cuda:N or auto, got '" + name + "'";
}

CustomValue<std::string> device_value() {
  return {"cpu, cuda, cuda:N or auto",
          [](const YamlValue& value) {
            const std::string name = ValueType<std::string>::read(value, {});
            if (!is_device_name(name)) value.fail(device_name_expected(name));
            return name;
          },
          [](const std::string& name) { return nlohmann::json(name); }};
}

}  // namespace ladle::config
