// Writing safetensors files: one file from a tensor set, or a Hugging Face sharded checkpoint streamed tensor
// by tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/io/atomic_file.h"
#include "lib/io/dtype.h"
#include "lib/weights/named_tensors.h"

namespace ladle::io {

// A tensor as a safetensors header describes it, known before its values.
struct TensorDeclaration {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;  // empty for a 0-d scalar

  std::uint64_t nbytes() const;
};

// Writes the tensors (moved to CPU and made contiguous one at a time) and metadata to `path` atomically
// (temporary name + rename), with direct I/O (FileWriteMode::kDirect). Within the file tensors are ordered by
// element size, largest first (stable, so otherwise in insertion order): with the header padded with spaces to a
// multiple of 8 bytes, every tensor starts at an offset that is a multiple of its element size, which lets
// readers map it without copying.
// Throws ladle::Error naming the file and tensor for an undefined or non-strided tensor, a dtype safetensors
// cannot store, the reserved name "__metadata__" or names/metadata that are not valid UTF-8.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes a checkpoint folder the way Hugging Face's save_pretrained shards one: files
// <prefix>-00001-of-0000N.safetensors (1-based, 5 digits) plus <prefix>.safetensors.index.json
// {"metadata": {"total_size": BYTES}, "weight_map": {name: file}}; a single shard is written as
// <prefix>.safetensors with no index. Shards are written with direct I/O (FileWriteMode::kDirect).
//
// Two ways to feed it. Tensors simply added are held (referenced) until their shard is full, since a shard's
// header lists all its tensors; so the current shard's tensors are held in memory. When the tensors' names, dtypes
// and shapes are known before their values (a merge plan), declare_tensors() fixes every shard's header up front,
// and add() then writes each tensor's bytes at its place in its shard straight away, holding nothing.
class ShardedSafetensorsWriter {
 public:
  // Creates `directory` if needed. Throws ladle::Error if max_shard_bytes is 0 or the folder already holds a
  // checkpoint with this prefix (mixing two would leave a folder that loads the wrong weights; CheckpointWriter
  // replaces a whole folder atomically instead).
  ShardedSafetensorsWriter(std::filesystem::path directory, std::uint64_t max_shard_bytes, std::string prefix = "model",
                           std::map<std::string, std::string> metadata = {{"format", "pt"}});

  // Fixes the shards (cut where add() would cut them for tensors added in this order), creates their files and
  // writes their headers. Call it at most once, before add(). Throws ladle::Error for a name given twice or the
  // reserved name "__metadata__".
  void declare_tensors(const std::vector<TensorDeclaration>& tensors);

  // Without declare_tensors(): queues a tensor for the current shard. When it would take the shard over
  // max_shard_bytes of tensor data, the current shard is written first; a tensor larger than the budget gets a
  // shard of its own. The tensor is referenced, not copied: do not modify it in place before finish().
  // After declare_tensors(): writes the tensor's bytes into its shard, in any order, and flushes a shard to disk
  // once all its tensors are in; the tensor is not kept. Throws ladle::Error for a name already added, a tensor
  // write_safetensors cannot store, or (when declared) an undeclared name or a dtype or shape other than declared.
  void add(const std::string& name, const at::Tensor& tensor);

  // Writes the last shard, renames the shards (written under temporary names until now) to their final
  // names and writes the index last. Returns the shard paths in order. With no tensors added, writes an
  // empty <prefix>.safetensors. Throws ladle::Error when a declared tensor was never added.
  std::vector<std::filesystem::path> finish();

 private:
  // Where a declared tensor goes.
  struct Declared {
    TensorDeclaration tensor;
    std::size_t shard = 0;
    std::uint64_t offset = 0;  // file offset of its bytes in the shard
  };

  void add_declared(const std::string& name, Dtype dtype, const at::Tensor& tensor);
  AtomicFile open_shard() const;  // the next shard's file, under a temporary name
  void write_current_shard();

  std::filesystem::path directory_;
  std::uint64_t max_shard_bytes_;
  std::string prefix_;
  std::map<std::string, std::string> metadata_;
  NamedTensors current_;  // tensors of the shard being filled
  std::uint64_t current_bytes_ = 0;
  std::vector<AtomicFile> shards_;                       // written, under temporary names
  std::vector<std::vector<std::string>> shard_tensors_;  // names in each written shard
  std::unordered_set<std::string> names_;                // every name added
  bool declared_mode_ = false;                           // declare_tensors() was called
  std::unordered_map<std::string, Declared> declared_;
  std::vector<std::size_t> tensors_to_add_;              // per declared shard: its tensors not added yet
  std::uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

// Parses a byte count such as "1024", "500M", "2G", "1.5GiB" or "5GB". K, M, G, T (or k, m, g, t) and KiB,
// MiB, GiB, TiB are binary (2^10, 2^20, ...); KB, MB, GB, TB are decimal (10^3, 10^6, ...), as in Hugging
// Face's max_shard_size ("5GB" = 5 * 10^9). A fractional count is rounded down to whole bytes. A lowercase
// "b" (bits, to Hugging Face) is rejected. Throws ladle::Error quoting the text when it does not parse or
// exceeds 2^64 - 1.
std::uint64_t parse_byte_size(const std::string& text);

}  // namespace ladle::io
