// Entry point of the `ladle` executable: global options, logging set-up, and one error policy for every
// subcommand (a ladle::Error or any other exception becomes one line on stderr and exit status 1; usage errors
// exit with status 2, as CLI11 reports them).
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/util/progress_line.h"
#include "lib/util/threads.h"
#include "cli/commands.h"

namespace {

struct GlobalOptions {
  std::string log_level = "info";
  std::string log_file;
  bool quiet = false;
  int threads = 0;
};

void add_global_options(CLI::App& app, GlobalOptions& options) {
  app.add_option("--log-level", options.log_level, "Least severe log record shown: trace, debug, info, warning, error")
      ->capture_default_str();
  app.add_option("--log-file", options.log_file, "Also append log records (debug and above) to this file");
  app.add_flag("-q,--quiet", options.quiet, "No progress lines, and only warnings and errors in the log");
  app.add_option("--threads", options.threads, "Threads for tensor work (0: OMP_NUM_THREADS, else all cores)")
      ->capture_default_str();
}

void apply_global_options(const GlobalOptions& options) {
  ladle::log::LoggingOptions logging;
  logging.console_level = options.quiet ? ladle::log::Level::warning : ladle::log::parse_level(options.log_level);
  if (!options.log_file.empty()) logging.file = options.log_file;
  ladle::log::configure_logging(logging);
  ladle::ProgressLine::set_quiet(options.quiet);
  ladle::configure_threads(options.threads);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ladle: weight averaging and model merging for libtorch training loops"};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions global;
  add_global_options(app, global);
  app.parse_complete_callback([&global] { apply_global_options(global); });
  ladle::cli::add_version_command(app);
  ladle::cli::add_inspect_command(app);
  ladle::cli::add_tokenizer_command(app);
  ladle::cli::add_merge_command(app);
  ladle::cli::add_cluster_command(app);
  ladle::cli::add_train_command(app);
  ladle::cli::add_soup_command(app);
  ladle::cli::add_wise_ft_command(app);
  ladle::cli::add_dtm_command(app);
  ladle::cli::add_evolve_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const ladle::Error& error) {
    std::cerr << "ladle: error: " << error.what() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "ladle: internal error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
