// `--device` on the commands that take no config file (soup, wise-ft, cluster) and on merge: the name is checked
// when the command line is parsed (lib/config/device_value.h) and resolved on this machine when the command runs
// (model::resolve_device, which refuses cuda without CUDA).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace ladle::cli {

// Adds `--device NAME` to `command`, stored in `device`, with `what_runs_there` ("The greedy soup's scoring
// model") before the accepted names in its help.
void add_device_option(CLI::App& command, std::string& device, const std::string& what_runs_there);

}  // namespace ladle::cli
