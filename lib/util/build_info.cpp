#include "lib/util/build_info.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <torch/version.h>

#include <fstream>
#include <sstream>

namespace ladle {
namespace {

// The BLAS shared object actually mapped into this process (Debian's alternatives decide which one
// libblas.so.3 is; the reference BLAS is ~25x slower than OpenBLAS, see docs/building.md §2).
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    if (path.find("libblas.so") != std::string::npos || path.find("libopenblas") != std::string::npos) {
      return path;
    }
  }
  return "not loaded yet";
}

}  // namespace

std::string version() { return LADLE_VERSION; }

std::string build_report() {
  std::ostringstream report;
  report << "ladle " << version() << "\n"
         << "libtorch " << TORCH_VERSION << "\n"
         << "CUDA available: " << (at::hasCUDA() ? "yes" : "no") << "\n"
         << "intra-op threads: " << at::get_num_threads() << "\n"
         << "BLAS: " << loaded_blas() << "\n";
  return report.str();
}

}  // namespace ladle
