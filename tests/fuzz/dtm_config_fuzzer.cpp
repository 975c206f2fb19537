// libFuzzer target: a `ladle dtm` YAML config's text through DtmConfig::from_yaml (pipelines/dtm/dtm_config.cpp:
// the schema, the checks across keys, each merge checked by the merge engine's parser, the training config it
// holds or names made and its callbacks built), then the training config of one run and each merge's mergekit
// YAML, as the pipeline builds them. Relative paths resolve in example_data_folder()/examples.
// A ladle::Error is the reader rejecting the input as it should; any other exception, a sanitizer report or a
// crash is a bug.
#include <cstddef>
#include <cstdint>

#include "lib/config/schema.h"
#include "lib/merge/merge_config.h"
#include "lib/util/error.h"
#include "pipelines/dtm/dtm_config.h"
#include "tests/fuzz/example_data_folder.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ladle::fuzz::silence_logging();
  (void)ladle::fuzz::example_data_folder();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto folder = ladle::fuzz::example_data_folder();
  try {
    const auto config =
        ladle::dtm::DtmConfig::from_yaml(ladle::fuzz::text_of(data, size), "dtm.yml", folder / "examples");
    (void)config.train_config({"max_steps=3"}).to_json().dump();
    std::vector<ladle::dtm::DtmMergeMethod> methods = {config.merge.method};
    for (const auto& variant : config.merge_variants) methods.push_back(variant.method);
    for (const auto& method : methods) {
      const auto yaml = method.yaml({folder / "run-0", folder / "run-1"}, {3, 5}, folder / "data/base-model");
      (void)ladle::merge::parse_merge_config(yaml, "merge.yml", folder);
    }
    (void)ladle::dtm::dtm_config_schema().to_json(config).dump();
  } catch (const ladle::Error&) {
  }
  return 0;
}
