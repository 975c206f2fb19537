// For the fuzz targets of configs that must name existing files (a DTM config's held-out sets, an evolve
// config's fitness data): a temporary folder laid out as the repository's data/ (instructions/*.jsonl with one
// record each, corpus/valid.txt, base-model/), so the example configs' relative paths resolve from
// FOLDER/examples (examples/dtm.yml: ../data/...) and FOLDER/bench/evolve (bench/evolve/evolve.yml:
// ../../data/...), and the readers get past the file checks to everything after them.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ladle::fuzz {

inline std::filesystem::path example_data_folder() {
  static const std::filesystem::path folder = [] {
    namespace fs = std::filesystem;
    std::string name = (fs::temp_directory_path() / "ladle-fuzz-XXXXXX").string();
    if (mkdtemp(name.data()) == nullptr) std::abort();
    const fs::path root = name;
    for (const char* dir : {"data/instructions", "data/corpus", "data/base-model", "examples", "bench/evolve"}) {
      fs::create_directories(root / dir);
    }
    for (const char* set : {"train", "valid", "test", "shifted"}) {
      std::ofstream(root / "data/instructions" / (std::string(set) + ".jsonl"))
          << R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]})"
          << "\n";
    }
    std::ofstream(root / "data/corpus/valid.txt") << "Some text.\n";
    return root;
  }();
  return folder;
}

}  // namespace ladle::fuzz
