// Finds and loads ladle's sentencepiece module once per process (see sentencepiece_abi.h).
#pragma once

#include <filesystem>

struct LadleSpmApi;

namespace ladle::text {

// The module's function table. Looks in $LADLE_SENTENCEPIECE_MODULE, then the build tree, then the install
// prefix; throws ladle::Error listing the places tried when none loads.
const LadleSpmApi& sentencepiece_api();

}  // namespace ladle::text
