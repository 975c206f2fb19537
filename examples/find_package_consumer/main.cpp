// Builds against an installed ladle: averages two tiny weight sets, saves the result as a Hugging Face
// folder, reads it back and prints the averaged value (expected 2.0 = mean of 1 and 3); then prints the callback
// types a training config can name, which the installed library registers although this program names none of them
// (expected "ema swa lawa soup wise_ft").
#include <ATen/ATen.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/weights/named_tensor_ops.h"
#include "trainer/callback_registry.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ladle_consumer OUT_DIR\n";
    return 2;
  }
  ladle::NamedTensors a, b;
  a.insert("layer.weight", at::full({2, 3}, 1.0f));
  b.insert("layer.weight", at::full({2, 3}, 3.0f));
  ladle::NamedTensors mean = ladle::weighted_mean({&a, &b}, {1.0, 1.0});
  ladle::io::save_checkpoint(argv[1], mean);
  ladle::io::CheckpointReader reader(argv[1]);
  std::cout << reader.tensor("layer.weight").mean().item<float>() << "\n";
  std::string types;
  for (const auto& type : ladle::trainer::registered_callback_types()) types += (types.empty() ? "" : " ") + type.name;
  std::cout << types << "\n";
  return 0;
}
