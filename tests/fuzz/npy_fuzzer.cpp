// libFuzzer target: a NumPy .npy file through read_npy (clustering/npy.cpp), as `ladle cluster --embeddings` reads
// a user's embeddings; an accepted matrix is written back with write_npy and must read back bit for bit.
// read_npy takes a path, so each input is written to a temporary file first.
// A ladle::Error from the first read is the reader rejecting the input as it should; any other exception (or any
// from writing and reading back), a sanitizer report, a crash or a matrix that does not read back is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "clustering/npy.h"
#include "lib/io/temporary_file.h"
#include "lib/util/error.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ladle::io::TemporaryFile input("fuzz-npy", ladle::fuzz::text_of(data, size));
  ladle::clustering::FloatMatrix matrix;
  try {
    matrix = ladle::clustering::read_npy(input.path());
  } catch (const ladle::Error&) {
    return 0;
  }
  if (matrix.values.size() != static_cast<std::size_t>(matrix.rows * matrix.cols)) std::abort();
  // Writing an accepted matrix and reading it back must not fail: a ladle::Error here escapes as a finding.
  const std::filesystem::path output = input.path().string() + ".written.npy";
  ladle::clustering::write_npy(output, matrix);
  const auto again = ladle::clustering::read_npy(output);
  std::filesystem::remove(output);
  if (again.rows != matrix.rows || again.cols != matrix.cols || again.values.size() != matrix.values.size() ||
      (!matrix.values.empty() &&
       std::memcmp(again.values.data(), matrix.values.data(), matrix.values.size() * sizeof(float)) != 0)) {
    std::fprintf(stderr, "a %lld x %lld matrix does not read back bit for bit\n", static_cast<long long>(matrix.rows),
                 static_cast<long long>(matrix.cols));
    std::abort();
  }
  return 0;
}
