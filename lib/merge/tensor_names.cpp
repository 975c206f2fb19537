#include "lib/merge/tensor_names.h"

#include <array>
#include <cctype>
#include <string_view>

#include "lib/util/string_affixes.h"

namespace ladle::merge {
namespace {

// The last dotted component that is not "weight"/"bias": "model.embed_tokens.weight" -> "embed_tokens".
std::string_view module_name(std::string_view name) {
  for (std::string_view parameter : {".weight", ".bias"}) {
    if (ends_with(name, parameter)) {
      name.remove_suffix(parameter.size());
      break;
    }
  }
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

bool is_stack_name(std::string_view stack) {
  for (std::string_view last : {"layers", "h"}) {
    if (stack == last || ends_with(stack, std::string(".") + std::string(last))) return true;
  }
  return false;
}

}  // namespace

std::optional<LayerTensorName> parse_layer_tensor_name(const std::string& name) {
  std::optional<LayerTensorName> found;
  // Every ".<digits>." position is a candidate; the last one whose prefix is a stack wins (the longest stack).
  for (std::size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
    std::size_t end = dot + 1;
    while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
    const std::size_t digits = end - dot - 1;
    if (digits == 0 || digits > 9 || end >= name.size() || name[end] != '.' || end + 1 >= name.size()) continue;
    if (digits > 1 && name[dot + 1] == '0') continue;
    const std::string stack = name.substr(0, dot);
    if (!is_stack_name(stack)) continue;
    found = LayerTensorName{stack, std::stoll(name.substr(dot + 1, digits)), name.substr(end + 1)};
  }
  return found;
}

std::string layer_tensor_name(const std::string& stack, std::int64_t index, const std::string& suffix) {
  return stack + "." + std::to_string(index) + "." + suffix;
}

bool is_vocabulary_tensor(const std::string& name) {
  static constexpr std::array<std::string_view, 6> kModules = {"embed_tokens", "wte",     "embed_in",
                                                               "word_embeddings", "lm_head", "embed_out"};
  if (parse_layer_tensor_name(name)) return false;
  const std::string_view module = module_name(name);
  for (std::string_view known : kModules) {
    if (module == known) return true;
  }
  return false;
}

bool is_pre_layer_tensor(const std::string& name) {
  if (parse_layer_tensor_name(name)) return false;
  const std::string_view module = module_name(name);
  // Input embeddings (embed_tokens, embed_in, word_embeddings, GPT-2's wte and wpe, embed_positions) and the
  // norms some architectures apply to them (e.g. "embed_layer_norm", "word_embeddings_layernorm").
  if (module == "wte" || module == "wpe") return true;
  return module.find("embed") != std::string_view::npos && module != "embed_out";
}

}  // namespace ladle::merge
