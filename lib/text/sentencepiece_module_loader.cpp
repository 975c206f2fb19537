#include "lib/text/sentencepiece_module_loader.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // dlmopen
#endif
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "lib/text/sentencepiece_abi.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

std::vector<std::string> candidate_paths() {
  std::vector<std::string> paths;
  if (const char* configured = std::getenv("LADLE_SENTENCEPIECE_MODULE"); configured && *configured) {
    paths.emplace_back(configured);
  }
  paths.emplace_back(LADLE_SENTENCEPIECE_MODULE_BUILD_PATH);
  paths.emplace_back(LADLE_SENTENCEPIECE_MODULE_INSTALL_PATH);
  return paths;
}


const LadleSpmApi* load_api() {
  std::string tried;
  for (const auto& path : candidate_paths()) {
    void* handle = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      tried += "\n  " + path + ": " + dlerror();
      continue;
    }
    auto entry = reinterpret_cast<LadleSpmEntryPoint>(dlsym(handle, LADLE_SPM_ENTRY_POINT));
    if (entry == nullptr) {
      tried += "\n  " + path + ": no symbol " LADLE_SPM_ENTRY_POINT;
      continue;
    }
    const LadleSpmApi* api = entry();
    if (api->abi_version != LADLE_SPM_ABI_VERSION) {
      tried += "\n  " + path + ": ABI version " + std::to_string(api->abi_version) + ", expected " +
               std::to_string(LADLE_SPM_ABI_VERSION);
      continue;
    }
    return api;
  }
  throw Error("cannot load ladle's sentencepiece module (set LADLE_SENTENCEPIECE_MODULE to its path); tried:" +
              tried);
}

}  // namespace

const LadleSpmApi& sentencepiece_api() {
  static std::once_flag once;
  static const LadleSpmApi* api = nullptr;
  std::call_once(once, [] { api = load_api(); });
  return *api;
}

}  // namespace ladle::text
