#include "lib/model/kv_cache.h"

#include <ATen/ATen.h>

#include <string>

#include "lib/util/error.h"

namespace ladle::model {

void KvCache::clear() {
  attention_mask_ = at::Tensor();
  keys_.clear();
  values_.clear();
}

at::Tensor KvCache::extend_attention_mask(const at::Tensor& new_mask) {
  if (!attention_mask_.defined()) {
    attention_mask_ = new_mask;
  } else {
    if (new_mask.size(0) != batch_size()) {
      throw Error("KV cache holds " + std::to_string(batch_size()) + " sequences, but the forward call has " +
                  std::to_string(new_mask.size(0)));
    }
    attention_mask_ = at::cat({attention_mask_, new_mask}, 1);
  }
  return attention_mask_;
}

std::pair<at::Tensor, at::Tensor> KvCache::append(std::size_t layer, const at::Tensor& key, const at::Tensor& value) {
  if (layer > keys_.size()) {
    throw Error("KV cache: layer " + std::to_string(layer) + " appended before layer " + std::to_string(keys_.size()));
  }
  if (layer == keys_.size()) {
    keys_.push_back(key);
    values_.push_back(value);
  } else {
    keys_[layer] = at::cat({keys_[layer], key}, 2);
    values_[layer] = at::cat({values_[layer], value}, 2);
  }
  if (keys_[layer].size(2) != length()) {
    throw Error("KV cache: layer " + std::to_string(layer) + " holds " + std::to_string(keys_[layer].size(2)) +
                " positions, but the attention mask covers " + std::to_string(length()));
  }
  return {keys_[layer], values_[layer]};
}

}  // namespace ladle::model
