// Killing the `ladle` CLI part-way, as a crash, an out-of-memory kill or a lost machine stops it: for the tests that
// check what an interrupted command leaves behind.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/command_runner.h"

namespace ladle::testing {

// Runs `ladle args...` like run_ladle, but sends SIGKILL when it still runs `delay` after its start; exit_code is
// then 137 (128 + SIGKILL).
CommandResult run_ladle_killed_after(const std::vector<std::string>& args, std::chrono::microseconds delay);

}  // namespace ladle::testing
