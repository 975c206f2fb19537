// Runs a program (the `ladle` CLI, the Python reference) from a test and captures what it printed.
#pragma once

#include <string>
#include <vector>

namespace ladle::testing {

struct CommandResult {
  int exit_code = -1;  // the program's exit status; 128 + N when killed by signal N
  std::string out;     // standard output
  std::string err;     // standard error
};

// Runs `program args...` without a shell, with stdin closed.
CommandResult run_command(const std::string& program, const std::vector<std::string>& args);
// Runs the `ladle` executable built with this test binary.
CommandResult run_ladle(const std::vector<std::string>& args);
// The Python with PyTorch used for reference values ($LADLE_PYTHON, else /usr/bin/python3).
std::string python_program();
// A TCP port on the loopback interface that was free a moment ago (for a test's MASTER_PORT).
int free_tcp_port();
// A fresh empty directory under the system's temporary directory, removed by the caller (or left for debugging).
std::string make_temp_dir(const std::string& label);

}  // namespace ladle::testing
