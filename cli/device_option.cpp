#include "cli/device_option.h"

#include <CLI/CLI.hpp>

#include "lib/config/device_value.h"

namespace ladle::cli {

void add_device_option(CLI::App& command, std::string& device, const std::string& what_runs_there) {
  const CLI::Validator device_name(
      [](std::string& name) { return config::is_device_name(name) ? "" : config::device_name_expected(name); },
      "DEVICE");
  command
      .add_option("--device", device,
                  what_runs_there + ": cpu, cuda, cuda:N or auto (cuda when a GPU is available, else cpu)")
      ->check(device_name)
      ->capture_default_str();
}

}  // namespace ladle::cli
