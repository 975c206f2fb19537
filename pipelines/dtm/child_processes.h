// Running commands as local child processes, a bounded number at once: how `ladle dtm --jobs N` trains its
// sub-models side by side. A process per run, not a thread, keeps each trainer's memory, threads and malloc
// settings its own, and a crash or kill takes down one run, never the pipeline's bookkeeping.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ladle::dtm {

struct ChildCommand {
  std::string label;              // names it in progress and errors, e.g. the run's name
  std::vector<std::string> argv;  // argv[0] is the program's path; run without a shell
  std::filesystem::path log;      // standard output and error are appended here
};

// Runs every command, at most `jobs` at once, in order, and waits for all. When some fail, no new one is started;
// the ones running are waited for, then ladle::Error names each failed command, its exit status and its log.
void run_child_processes(const std::vector<ChildCommand>& commands, int jobs);

}  // namespace ladle::dtm
