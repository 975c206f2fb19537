// A merge method with the diagonal Fisher files of its input models bound to it (`models[].fisher` in a merge
// config), for methods whose needs_model_fishers() is true (fisher).
//
// The executor builds MethodInputs from the plan and reads no Fisher files, so the planner wraps the registered
// method in a MethodWithFishers: the same name, parameters and math, whose merge() first fills
// MethodInputs::model_fishers with the Fisher tensors the planner recorded for that output tensor (zero-copy
// views of the memory-mapped files) and, when normalize_fishers is set, MethodInputs::model_fisher_norms. A
// Fisher's norm is its L2 norm over every tensor the plan reads from that file: the whole model in the `models`
// form, as the reference implementation of Matena & Raffel normalises over all merged variables. The norms come
// from a first pass over the files, made once, when the first tensor is merged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_method.h"

namespace ladle::merge {

// The Fisher tensor one input model of one output tensor reads.
struct PlannedFisher {
  std::size_t file = 0;  // index from MethodWithFishers::open_file
  std::string tensor;    // its name in that file: the input tensor's name
};

class MethodWithFishers : public MergeMethod {
 public:
  // `method` must outlive this object (registered methods live for the whole program).
  explicit MethodWithFishers(const MergeMethod& method) : method_(method) {}

  // Opens (memory-maps, reading only the headers) a Fisher file once per resolved path and returns its index.
  // Throws ladle::Error with the reader's reason when the file cannot be opened.
  std::size_t open_file(const ModelReference& file);
  const io::CheckpointReader& file(std::size_t index) const { return *files_[index]; }

  // Records the Fishers of output tensor `output_name`'s input models, in the order of MethodInputs::models.
  // `vocabulary_rows`: the plan cuts every input to its first rows (PlannedTensor::vocabulary_rows), and so
  // merge() cuts the Fishers.
  void add_tensor(const std::string& output_name, std::vector<PlannedFisher> fishers,
                  std::optional<std::int64_t> vocabulary_rows);

  std::string name() const override { return method_.name(); }
  std::vector<ParameterSpec> parameters() const override { return method_.parameters(); }
  bool requires_base() const override { return method_.requires_base(); }
  bool needs_global_magnitude_thresholds(const std::map<std::string, double>& parameters) const override {
    return method_.needs_global_magnitude_thresholds(parameters);
  }
  bool needs_model_fishers(const std::map<std::string, double>& parameters) const override {
    return method_.needs_model_fishers(parameters);
  }
  void validate(const MethodInputs& inputs) const override { method_.validate(inputs); }
  // The wrapped method's merge() on `inputs` with model_fishers (and model_fisher_norms) filled in. Throws
  // ladle::Error naming the tensor when the planner recorded no Fishers for it.
  at::Tensor merge(const MethodInputs& inputs) const override;

 private:
  struct TensorFishers {
    std::vector<PlannedFisher> fishers;
    std::optional<std::int64_t> vocabulary_rows;
  };
  // Every file's L2 norm over the tensors recorded from it, computed on first call (thread-safe).
  const std::vector<double>& norms() const;

  const MergeMethod& method_;
  std::vector<std::unique_ptr<io::CheckpointReader>> files_;
  std::map<std::string, std::size_t> file_index_;  // resolved path -> index into files_
  std::map<std::string, TensorFishers> tensors_;   // output tensor name -> its inputs' Fishers
  mutable std::once_flag norms_once_;
  mutable std::vector<double> norms_;
};

}  // namespace ladle::merge
