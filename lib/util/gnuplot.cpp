#include "lib/util/gnuplot.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "lib/log/log.h"
#include "lib/util/error.h"

extern char** environ;

namespace ladle {

std::string gnuplot_quoted(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

bool run_gnuplot(const std::filesystem::path& script) {
  std::string program = "gnuplot";
  std::string script_path = script.string();
  char* argv[] = {program.data(), script_path.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ);
  if (spawned == ENOENT) {
    LADLE_LOG(warning) << "gnuplot is not installed (Debian: apt-get install gnuplot-nox), so no plot was drawn; "
                       << "run `gnuplot " << script_path << "` later to draw it";
    return false;
  }
  if (spawned != 0) throw Error("cannot start gnuplot for " + script_path + ": " + std::strerror(spawned));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Error("waiting for gnuplot failed: " + std::string(std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error("gnuplot failed on " + script_path + " (status " + std::to_string(status) + ")");
  }
  return true;
}

}  // namespace ladle
