// What this build of ladle is and what it runs on, for `ladle version` and run reports.
#pragma once

#include <string>

namespace ladle {

// The library's version, e.g. "0.1.0".
std::string version();
// One line per fact: libtorch version, CUDA availability, intra-op threads, BLAS library libtorch loaded.
std::string build_report();

}  // namespace ladle
