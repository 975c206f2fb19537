// The error a config check throws before it knows where the value came from: the dotted key and what is wrong.
// A reader that knows the source (ConfigSource::located) turns it into "train.yml:12: optimizer.lr: ...".
#pragma once

#include <string>
#include <utility>

#include "lib/util/error.h"

namespace ladle::config {

class ConfigError : public Error {
 public:
  ConfigError(std::string key, const std::string& message) : Error(key + ": " + message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }  // dotted: "optimizer.lr", "callbacks[0].type"

 private:
  std::string key_;
};

}  // namespace ladle::config
