#include "pipelines/dtm/child_processes.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/util/progress_line.h"

extern char** environ;

namespace ladle::dtm {
namespace {

pid_t spawn(const ChildCommand& command) {
  std::filesystem::create_directories(command.log.parent_path());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, command.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  for (const auto& argument : command.argv) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int status = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (status != 0) throw Error(command.label + ": cannot start " + command.argv[0] + ": " + std::strerror(status));
  return pid;
}

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

void run_child_processes(const std::vector<ChildCommand>& commands, int jobs) {
  if (jobs < 1) throw Error("--jobs must be at least 1");
  if (commands.empty()) return;
  std::map<pid_t, const ChildCommand*> running;
  std::string failures;
  std::size_t next = 0;
  ProgressLine progress("runs", commands.size());
  while (next < commands.size() || !running.empty()) {
    while (failures.empty() && next < commands.size() && static_cast<int>(running.size()) < jobs) {
      const ChildCommand& command = commands[next++];
      LADLE_LOG(info) << "started " << command.label << " (log: " << command.log.string() << ")";
      running[spawn(command)] = &command;
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("waiting for the runs: ") + std::strerror(errno));
    }
    const auto found = running.find(pid);
    if (found == running.end()) continue;  // not one of ours
    const ChildCommand& command = *found->second;
    running.erase(found);
    progress.advance();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      LADLE_LOG(info) << "finished " << command.label;
    } else {
      failures += "\n  " + command.label + ": " + exit_text(status) + " (see " + command.log.string() + ")";
    }
  }
  progress.finish();
  if (!failures.empty()) throw Error("some runs failed:" + failures);
}

}  // namespace ladle::dtm
