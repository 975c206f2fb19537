#include "lib/model/causal_lm_folder.h"

#include <ATen/ATen.h>

#include "lib/io/atomic_file.h"
#include "lib/io/safetensors_writer.h"
#include "lib/io/torch_dtype.h"
#include "lib/model/lora.h"
#include "lib/util/error.h"

namespace ladle::model {
namespace {

constexpr std::uint64_t kMaxShardBytes = 5ull << 30;  // Hugging Face's default

void write_weights(const CausalLm& model, const NamedTensors& tensors, const std::filesystem::path& folder) {
  io::ShardedSafetensorsWriter shards(folder, kMaxShardBytes);
  for (const auto& [name, tensor] : tensors) shards.add(name, tensor);
  shards.finish();
  const auto config = model.config().to_json(io::torch_dtype_name(model.parameter_dtype()));
  io::write_file_atomically(folder / "config.json", config.dump(2) + "\n");
}

}  // namespace

bool has_lora_adapters(const CausalLm& model) {
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.key().find(".lora_A.") != std::string::npos) return true;
  }
  return false;
}

void write_causal_lm_folder(const CausalLm& model, const std::filesystem::path& directory,
                        const CausalLmFolderOptions& options) {
  at::NoGradGuard no_grad;
  io::AtomicDirectory folder(directory, options.overwrite);
  if (has_lora_adapters(model)) {
    const LoraAdapter adapter = lora_adapter(model);
    save_lora_adapter(adapter, folder.path() / "adapter");
    if (options.merge_lora)
      write_weights(model, merge_lora_into_base(model.hf_state_dict(), adapter), folder.path());
  } else {
    write_weights(model, model.hf_state_dict(), folder.path());
  }
  for (const auto& file : options.tokenizer_files) {
    std::filesystem::copy_file(file, folder.path() / file.filename(), std::filesystem::copy_options::overwrite_existing);
  }
  folder.commit();
}

}  // namespace ladle::model
