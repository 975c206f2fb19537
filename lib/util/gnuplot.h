// Running gnuplot (Debian's gnuplot-nox) on a script that ladle wrote, for report plots. Torch-free.
#pragma once

#include <filesystem>
#include <string>

namespace ladle {

// A gnuplot string literal for `text` (single-quoted, quotes doubled), e.g. for file names in a script.
std::string gnuplot_quoted(const std::string& text);

// Runs `gnuplot SCRIPT` found on PATH. Returns false, after a logged warning naming the script, when gnuplot is not
// installed; throws ladle::Error with gnuplot's exit status when it fails.
bool run_gnuplot(const std::filesystem::path& script);

}  // namespace ladle
