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
#include <system_error>

namespace ladle::fuzz {

class ExampleDataFolder {
 public:
  ExampleDataFolder() {
    namespace fs = std::filesystem;
    std::string name = (fs::temp_directory_path() / "ladle-fuzz-XXXXXX").string();
    if (mkdtemp(name.data()) == nullptr) std::abort();
    root_ = name;
    for (const char* dir : {"data/instructions", "data/corpus", "data/base-model", "examples", "bench/evolve"}) {
      fs::create_directories(root_ / dir);
    }
    for (const char* set : {"train", "valid", "test", "shifted"}) {
      std::ofstream(root_ / "data/instructions" / (std::string(set) + ".jsonl"))
          << R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]})"
          << "\n";
    }
    std::ofstream(root_ / "data/corpus/valid.txt") << "Some text.\n";
  }
  ~ExampleDataFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  ExampleDataFolder(const ExampleDataFolder&) = delete;
  ExampleDataFolder& operator=(const ExampleDataFolder&) = delete;

  const std::filesystem::path& path() const { return root_; }

 private:
  std::filesystem::path root_;
};

// The process's folder, made on the first call and removed at exit.
inline const std::filesystem::path& example_data_folder() {
  static const ExampleDataFolder folder;
  return folder.path();
}

}  // namespace ladle::fuzz
