// A uniform model soup (Wortsman et al. 2022, "uniform soup": the plain mean of fine-tuned weights) of Hugging
// Face folders, streamed tensor by tensor: each input is memory-mapped, one tensor of each is read at a time,
// averaged in fp32, and written into the output's current shard. Peak memory is a few tensors, not whole models.
//   uniform_soup OUT_DIR MODEL_DIR MODEL_DIR [...]
#include <ATen/ATen.h>

#include <iostream>
#include <memory>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/io/torch_dtype.h"
#include "lib/util/error.h"
#include "lib/util/progress_line.h"
#include "lib/weights/tensor_ops.h"

namespace {

// The inputs must agree on every tensor's name, dtype and shape before anything is written.
void require_same_tensors(const std::vector<std::unique_ptr<ladle::io::CheckpointReader>>& inputs) {
  const auto& first = *inputs.front();
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    const auto& other = *inputs[i];
    if (other.names().size() != first.names().size()) {
      throw ladle::Error(other.path().string() + " has " + std::to_string(other.names().size()) + " tensors, " +
                         first.path().string() + " has " + std::to_string(first.names().size()));
    }
    for (const auto& name : first.names()) {
      if (!other.contains(name)) throw ladle::Error(other.path().string() + ": no tensor '" + name + "'");
      if (other.entry(name).shape != first.entry(name).shape || other.entry(name).dtype != first.entry(name).dtype) {
        throw ladle::Error("tensor '" + name + "' differs in shape or dtype between " + first.path().string() +
                           " and " + other.path().string());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: uniform_soup OUT_DIR MODEL_DIR MODEL_DIR [...]\n";
    return 2;
  }
  try {
    std::vector<std::unique_ptr<ladle::io::CheckpointReader>> inputs;
    for (int i = 2; i < argc; ++i) inputs.push_back(std::make_unique<ladle::io::CheckpointReader>(argv[i]));
    require_same_tensors(inputs);
    const auto& first = *inputs.front();
    ladle::io::CheckpointWriter writer(argv[1]);
    if (first.config()) writer.set_config(*first.config());
    const std::vector<double> weights(inputs.size(), 1.0);
    ladle::ProgressOptions progress_options;
    progress_options.item_name = "tensors";
    ladle::ProgressLine progress("soup", first.names().size(), progress_options);
    for (const auto& name : first.names()) {
      std::vector<at::Tensor> tensors;
      for (const auto& input : inputs) tensors.push_back(input->tensor(name));
      const auto dtype = *ladle::io::to_scalar_type(first.entry(name).dtype);
      writer.add(name, ladle::to_storage_dtype(ladle::weighted_mean(tensors, weights), dtype));
      progress.advance();
    }
    progress.finish();
    std::cout << "wrote the uniform soup of " << inputs.size() << " models to " << writer.finish().string() << "\n";
  } catch (const std::exception& error) {
    std::cerr << "uniform_soup: error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
