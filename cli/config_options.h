// The options a command that reads a config file shares: `--set key=value` overrides, and `--help-config
// [--markdown]`, which prints the reference of the config's keys, generated from their declarations
// (lib/config/schema.h), and exits. The Markdown form is the command's section of docs/config.md, which a test
// regenerates and compares (tests/cli/config_reference_test.cpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lib/config/key_reference.h"

namespace CLI {
class App;
}

namespace ladle::cli {

// `--set KEY=VALUE` (repeatable) into `overrides`.
void add_set_option(CLI::App& command, std::vector<std::string>& overrides);

// What `--help-config` prints: the keys, and for the Markdown form a title and a paragraph on the config as a whole.
struct ConfigReference {
  std::string title;  // "`ladle train`: the training config"
  std::string intro;
  std::function<std::vector<config::KeyReference>()> keys;
};

// `--help-config [--markdown]` on `command`. The Markdown starts with a line naming the command that printed it
// (docs/config.md's sections are told apart by it), then the title as a level-2 heading.
void add_help_config_option(CLI::App& command, ConfigReference reference);

}  // namespace ladle::cli
