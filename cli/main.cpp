// Entry point of the `ladle` executable: global options, logging set-up, and one error policy for every
// subcommand: a ladle::Error or any other exception becomes one line on stderr and exit status 1; a usage error
// (an unknown command or option, a missing or malformed argument) one line and exit status 2; --help and
// --version print and exit 0.
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "lib/config/suggestion.h"
#include "lib/log/log.h"
#include "lib/log/log_file.h"
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
      ->check(CLI::IsMember({"trace", "debug", "info", "warning", "error"}))
      ->capture_default_str();
  app.add_option("--log-file", options.log_file, "Also append log records (debug and above) to this file");
  app.add_flag("-q,--quiet", options.quiet, "No progress lines, and only warnings and errors in the log");
  app.add_option("--threads", options.threads, "Threads for tensor work (0: OMP_NUM_THREADS, else all cores)")
      ->capture_default_str();
}

// A checkpoint's files stay open while they are read (io::MappedFile keeps its descriptor for pread), so a merge of
// many sharded models can need more descriptors than the usual soft limit of 1,024: raise it to the hard limit.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void apply_global_options(const GlobalOptions& options) {
  ladle::log::LoggingOptions logging;
  logging.console_level = options.quiet ? ladle::log::Level::warning : ladle::log::parse_level(options.log_level);
  if (!options.log_file.empty()) logging.file = options.log_file;
  ladle::log::configure_logging(logging);
  ladle::ProgressLine::set_quiet(options.quiet);
  ladle::configure_threads(options.threads);
  raise_open_file_limit();
}

// The first argument that is neither a global option nor its value: what the user meant as the command.
std::string command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool takes_value = arg == "--log-level" || arg == "--log-file" || arg == "--threads";
    if (takes_value) {
      ++i;
    } else if (arg.empty() || arg[0] != '-') {
      return arg;
    }
  }
  return "";
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(command->get_name());
  }
  return names;
}

// One line on stderr and exit status 2. CLI11's own texts name the option; the hint names the command's help.
int usage_error(const CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  const std::string word = command_word(argc, argv);
  const std::vector<std::string> commands = command_names(app);
  const bool known = std::find(commands.begin(), commands.end(), word) != commands.end();
  if (!word.empty() && !known) {
    std::cerr << "ladle: error: unknown command '" << word << "'" << ladle::config::did_you_mean(word, commands)
              << "; commands: " << ladle::config::comma_list(commands) << "\n";
  } else {
    std::cerr << "ladle: error: " << error.what() << " (see 'ladle " << (known ? word + " " : "") << "--help')\n";
  }
  return 2;
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
  ladle::cli::add_extract_lora_command(app);
  ladle::cli::add_cluster_command(app);
  ladle::cli::add_train_command(app);
  ladle::cli::add_soup_command(app);
  ladle::cli::add_wise_ft_command(app);
  ladle::cli::add_posthoc_ema_command(app);
  ladle::cli::add_merge_checkpoints_command(app);
  ladle::cli::add_dtm_command(app);
  ladle::cli::add_evolve_command(app);
  ladle::cli::add_evaluate_command(app);
  try {
    app.parse(argc, argv);
    ladle::log::check_log_file();
  } catch (const CLI::ParseError& error) {
    // --help, --version and commands that print and finish early (CLI::Success) end with status 0.
    if (error.get_exit_code() == 0) return app.exit(error);
    return usage_error(app, error, argc, argv);
  } catch (const ladle::Error& error) {
    std::cerr << "ladle: error: " << error.what() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "ladle: internal error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
