// libFuzzer target: a `ladle evolve` YAML config's text through EvolveConfig::from_yaml (pipelines/evolve/
// evolve_config.cpp: the schema, the checks across keys, the genome, the recipe of the initial point checked by
// the merge engine's parser), then the recipes of the search box's corners, as the search will ask for them.
// Relative paths resolve in example_data_folder()/bench/evolve.
// A ladle::Error is the reader rejecting the input as it should; any other exception, a sanitizer report or a
// crash is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lib/merge/merge_config.h"
#include "lib/util/error.h"
#include "pipelines/evolve/evolve_config.h"
#include "pipelines/evolve/merge_genome.h"
#include "tests/fuzz/example_data_folder.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  (void)ladle::fuzz::example_data_folder();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto folder = ladle::fuzz::example_data_folder() / "bench/evolve";
  try {
    const auto config = ladle::evolve::EvolveConfig::from_yaml(ladle::fuzz::text_of(data, size), "evolve.yml", folder);
    const ladle::evolve::MergeGenome genome(config);
    for (const double corner : {0.0, 1.0}) {
      const std::vector<double> point(genome.size(), corner);
      (void)genome.gene_names();
      (void)ladle::merge::parse_merge_config(genome.recipe_yaml(point), "recipe.yml", folder);
    }
  } catch (const ladle::Error&) {
  }
  return 0;
}
