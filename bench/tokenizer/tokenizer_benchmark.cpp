// Tokenizer throughput: ladle's tokenizer (text::open_tokenizer) encoding a text file line by line on one thread,
// once; prints one JSON line (bytes, tokens, wall and process CPU seconds, tokens/s and MB/s of each: on a machine
// others load too, the CPU time shows the work itself). run_benchmark.sh runs it beside the
// JavaScript references (bench_js.mjs) on the same file.
//
//   tokenizer_benchmark TOKENIZER TEXT_FILE
#include <chrono>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/io/text_file.h"
#include "lib/text/open_tokenizer.h"
#include "lib/util/error.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: tokenizer_benchmark TOKENIZER TEXT_FILE\n";
    return 2;
  }
  try {
    using Clock = std::chrono::steady_clock;
    const auto load_start = Clock::now();
    const auto tokenizer = ladle::text::open_tokenizer(argv[1]);
    const double load_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
    const std::string text = ladle::io::read_text_file(argv[2], ladle::io::kNoSizeLimit);
    std::vector<std::string> lines;
    for (std::size_t begin = 0; begin < text.size();) {
      std::size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      lines.push_back(text.substr(begin, end - begin));
      begin = end + 1;
    }
    std::size_t tokens = 0;
    const auto start = Clock::now();
    const std::clock_t cpu_start = std::clock();
    for (const auto& line : lines) tokens += tokenizer->encode(line).size();
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::size_t bytes = 0;
    for (const auto& line : lines) bytes += line.size();
    std::cout << nlohmann::json{{"implementation", "ladle"},
                                {"tokenizer", argv[1]},
                                {"bytes", bytes},
                                {"tokens", tokens},
                                {"load_seconds", load_seconds},
                                {"seconds", seconds},
                                {"cpu_seconds", cpu_seconds},
                                {"tokens_per_second", tokens / seconds},
                                {"megabytes_per_second", bytes / seconds / 1e6},
                                {"tokens_per_cpu_second", tokens / cpu_seconds},
                                {"megabytes_per_cpu_second", bytes / cpu_seconds / 1e6}}
                     .dump()
              << "\n";
  } catch (const ladle::Error& error) {
    std::cerr << "tokenizer_benchmark: " << error.what() << "\n";
    return 1;
  }
}
