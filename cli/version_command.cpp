#include <CLI/CLI.hpp>

#include <iostream>

#include "lib/util/build_info.h"
#include "cli/commands.h"

namespace ladle::cli {

void add_version_command(CLI::App& app) {
  auto* command = app.add_subcommand("version", "Print ladle's version and what it runs on (libtorch, CUDA, BLAS)");
  command->callback([] { std::cout << build_report(); });
}

}  // namespace ladle::cli
