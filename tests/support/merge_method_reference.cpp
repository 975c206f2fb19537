#include "tests/support/merge_method_reference.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "lib/io/safetensors_writer.h"
#include "lib/weights/named_tensors.h"
#include "tests/support/command_runner.h"

namespace ladle::testing {

at::Tensor reference_merge(const std::string& method, const merge::MethodInputs& inputs,
                           const nlohmann::json& parameters) {
  const std::filesystem::path folder = make_temp_dir("merge_reference");
  NamedTensors tensors;
  tensors.insert("base", inputs.base->to(at::kFloat).contiguous());
  for (std::size_t i = 0; i < inputs.models.size(); ++i) {
    tensors.insert("model." + std::to_string(i), inputs.models[i].to(at::kFloat).contiguous());
  }
  io::write_safetensors(folder / "model.safetensors", tensors);
  const CommandResult result = run_command(
      python_program(), {std::string(LADLE_SOURCE_DIR) + "/tests/tools/merge_methods_reference.py", method,
                         folder.string(), std::to_string(inputs.models.size()), parameters.dump()});
  std::filesystem::remove_all(folder);
  if (result.exit_code != 0) {
    ADD_FAILURE() << "merge_methods_reference.py " << method << " failed: " << result.err;
    return {};
  }
  const nlohmann::json merged = nlohmann::json::parse(result.out);
  const std::vector<double> values = merged["values"].get<std::vector<double>>();
  const std::vector<std::int64_t> shape = merged["shape"].get<std::vector<std::int64_t>>();
  return at::tensor(values, at::kDouble).reshape(shape);
}

void expect_same_update(const at::Tensor& actual, const at::Tensor& expected, const at::Tensor& base,
                        double tolerance) {
  ASSERT_TRUE(expected.defined());
  ASSERT_EQ(actual.sizes(), expected.sizes());
  const at::Tensor expected_update = expected.to(at::kDouble) - base.to(at::kDouble);
  const at::Tensor actual_update = actual.to(at::kDouble) - base.to(at::kDouble);
  const double error = (actual_update - expected_update).abs().max().item<double>();
  const double size = expected_update.abs().max().item<double>();
  EXPECT_LE(error, tolerance * size) << "update\n" << actual_update << "\nexpected\n" << expected_update;
}

}  // namespace ladle::testing
