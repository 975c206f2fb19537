# Finds ladle's dependencies, in the order docs/building.md §5 requires.
# Also used by the installed ladleConfig.cmake (with find_dependency), so keep it free of build-only logic.
include(CMakeFindDependencyMacro)
find_package(Torch REQUIRED)
# faiss's imported target needs OpenMP but does not find it itself.
find_package(OpenMP REQUIRED)
find_package(faiss REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS log log_setup)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
# Hugging Face tokenizers (lib/text/hf/): Oniguruma for their regular expressions, ICU for Unicode normalization.
find_package(PkgConfig REQUIRED)
pkg_check_modules(ONIG REQUIRED IMPORTED_TARGET oniguruma)
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc)
# Checkpoint checksums (lib/io/checksum_manifest.h): xxHash's XXH3-128.
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
