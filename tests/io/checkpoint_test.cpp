// Sharded checkpoints: ShardedSafetensorsWriter, CheckpointWriter (atomic folders) and CheckpointReader
// (single files, Hugging Face folders, hostile indexes), plus the atomic file helpers they are built on.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/io/atomic_file.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/io/safetensors_writer.h"
#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct ScratchDir {
  fs::path path{ladle::testing::make_temp_dir("io-checkpoint")};
  ~ScratchDir() { fs::remove_all(path); }
};

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& item : fs::directory_iterator(dir)) names.push_back(item.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Five F32 tensors of 16 elements (64 bytes each) with distinct known values.
NamedTensors five_tensors() {
  NamedTensors tensors;
  for (int i = 0; i < 5; ++i) {
    tensors.insert("layer" + std::to_string(i) + ".weight", at::arange(16 * i, 16 * (i + 1), at::kFloat));
  }
  return tensors;
}

void expect_bit_exact(const NamedTensors& actual, const NamedTensors& expected) {
  ASSERT_EQ(actual.names(), expected.names());
  for (const auto& [name, tensor] : expected) {
    const at::Tensor& got = actual.at(name);
    EXPECT_EQ(got.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), tensor.sizes()) << name;
    EXPECT_TRUE(at::equal(got, tensor)) << name;
  }
}

template <typename Function>
std::string error_of(Function&& function) {
  try {
    function();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ladle::Error";
  return "";
}

#define EXPECT_CONTAINS(text, phrase) \
  EXPECT_NE(std::string(text).find(phrase), std::string::npos) << "expected \"" << (phrase) << "\" in: " << (text)

// ---- ShardedSafetensorsWriter ----

TEST(CheckpointSharded, BudgetForcingThreeShardsGivesHuggingFaceNamesAndIndex) {
  ScratchDir dir;
  const NamedTensors tensors = five_tensors();
  ShardedSafetensorsWriter writer(dir.path, 128);  // two 64-byte tensors per shard
  for (const auto& [name, tensor] : tensors) writer.add(name, tensor);
  const auto shards = writer.finish();

  const std::vector<std::string> expected_files = {
      "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"};
  ASSERT_EQ(shards.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(shards[i], dir.path / expected_files[i]);
  std::vector<std::string> all_files = expected_files;
  all_files.push_back("model.safetensors.index.json");
  EXPECT_EQ(listing(dir.path), all_files);

  const json index = json::parse(read_text(dir.path / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 5 * 64);
  const json expected_map = {{"layer0.weight", expected_files[0]},
                             {"layer1.weight", expected_files[0]},
                             {"layer2.weight", expected_files[1]},
                             {"layer3.weight", expected_files[1]},
                             {"layer4.weight", expected_files[2]}};
  EXPECT_EQ(index["weight_map"], expected_map);

  CheckpointReader reader(dir.path);
  EXPECT_EQ(reader.shards().size(), 3u);
  expect_bit_exact(reader.load_all(), tensors);
  EXPECT_EQ(reader.shards()[0]->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
}

TEST(CheckpointSharded, TensorLargerThanTheBudgetGetsAShardOfItsOwn) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 100);
  writer.add("small_a", at::ones({10}));  // 40 bytes
  writer.add("big", at::ones({100}));     // 400 bytes
  writer.add("small_b", at::ones({10}));
  const auto shards = writer.finish();
  ASSERT_EQ(shards.size(), 3u);
  CheckpointReader reader(dir.path);
  EXPECT_EQ(reader.shard_of("small_a").path(), shards[0]);
  EXPECT_EQ(reader.shard_of("big").path(), shards[1]);
  EXPECT_EQ(reader.shard_of("small_b").path(), shards[2]);
}

TEST(CheckpointSharded, SingleShardIsModelSafetensorsWithoutIndex) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 1 << 20);
  for (const auto& [name, tensor] : five_tensors()) writer.add(name, tensor);
  const auto shards = writer.finish();
  ASSERT_EQ(shards.size(), 1u);
  EXPECT_EQ(shards[0], dir.path / "model.safetensors");
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{"model.safetensors"});
  expect_bit_exact(CheckpointReader(dir.path).load_all(), five_tensors());
}

TEST(CheckpointSharded, DuplicateNameIsAnError) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 1 << 20);
  writer.add("w", at::ones({2}));
  EXPECT_CONTAINS(error_of([&] { writer.add("w", at::zeros({2})); }), "tensor 'w' was already added");
}

TEST(CheckpointSharded, UnstorableTensorIsRejectedWhenAdded) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 1 << 20);
  EXPECT_CONTAINS(error_of([&] { writer.add("c", at::zeros({2}, at::kComplexDouble)); }),
                  "tensor 'c': libtorch dtype ComplexDouble cannot be stored in safetensors");
}

TEST(CheckpointSharded, UnfinishedWriterLeavesNoFinishedLookingFiles) {
  ScratchDir dir;
  {
    ShardedSafetensorsWriter writer(dir.path, 64);
    for (const auto& [name, tensor] : five_tensors()) writer.add(name, tensor);  // four shards written
  }
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{});
}

TEST(CheckpointSharded, RefusesAFolderAlreadyHoldingACheckpoint) {
  ScratchDir dir;
  write_text(dir.path / "model-00001-of-00002.safetensors", "stale");
  EXPECT_CONTAINS(error_of([&] { ShardedSafetensorsWriter(dir.path, 1024); }),
                  "already holds checkpoint file model-00001-of-00002.safetensors");
}

TEST(CheckpointSharded, ZeroBudgetIsAnError) {
  ScratchDir dir;
  EXPECT_CONTAINS(error_of([&] { ShardedSafetensorsWriter(dir.path, 0); }), "must be positive");
}

// ---- CheckpointWriter ----

TEST(CheckpointWriter, NothingAppearsBeforeFinish) {
  ScratchDir dir;
  const fs::path target = dir.path / "merged";
  CheckpointWriter writer(target, {/*max_shard_bytes=*/128});
  writer.set_config({{"model_type", "llama"}});
  for (const auto& [name, tensor] : five_tensors()) writer.add(name, tensor);
  EXPECT_FALSE(fs::exists(target));
  EXPECT_EQ(writer.finish(), target);

  EXPECT_EQ(listing(target), (std::vector<std::string>{
                                 "config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                 "model-00003-of-00003.safetensors", "model.safetensors.index.json"}));
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{"merged"});
  CheckpointReader reader(target);
  ASSERT_TRUE(reader.config());
  EXPECT_EQ(*reader.config(), (json{{"model_type", "llama"}}));
  expect_bit_exact(reader.load_all(), five_tensors());
}

TEST(CheckpointWriter, DestroyedWithoutFinishLeavesNothing) {
  ScratchDir dir;
  {
    CheckpointWriter writer(dir.path / "merged", {/*max_shard_bytes=*/64});
    writer.set_config({{"model_type", "llama"}});
    for (const auto& [name, tensor] : five_tensors()) writer.add(name, tensor);
  }
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{});
}

TEST(CheckpointWriter, ExistingFolderWithoutOverwriteThrowsAndKeepsTheOldFolder) {
  ScratchDir dir;
  const fs::path target = dir.path / "merged";
  save_checkpoint(target, five_tensors());
  NamedTensors other;
  other.insert("other", at::zeros({3}));
  EXPECT_CONTAINS(error_of([&] { save_checkpoint(target, other); }), "merged: already exists");
  expect_bit_exact(CheckpointReader(target).load_all(), five_tensors());
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{"merged"});
}

TEST(CheckpointWriter, OverwriteReplacesTheWholeFolder) {
  ScratchDir dir;
  const fs::path target = dir.path / "merged";
  fs::create_directories(target);
  write_text(target / "stale.txt", "old");
  NamedTensors tensors;
  tensors.insert("w", at::arange(4, at::kDouble));
  CheckpointWriteOptions options;
  options.overwrite = true;
  save_checkpoint(target, tensors, json{{"hidden_size", 4}}, options);
  EXPECT_EQ(listing(target), (std::vector<std::string>{"config.json", "model.safetensors"}));
  expect_bit_exact(CheckpointReader(target).load_all(), tensors);
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{"merged"});
}

TEST(CheckpointWriter, CopiesFilesUnderPlainNamesOnly) {
  ScratchDir dir;
  write_text(dir.path / "tokenizer.json", R"({"version":"1.0"})");
  CheckpointWriter writer(dir.path / "merged");
  writer.copy_file(dir.path / "tokenizer.json", "tokenizer.json");
  EXPECT_CONTAINS(error_of([&] { writer.copy_file(dir.path / "tokenizer.json", "../escape.json"); }),
                  "is not a plain file name");
  EXPECT_CONTAINS(error_of([&] { writer.copy_file(dir.path / "tokenizer.json", "tokenizer.json"); }),
                  "already has a file named 'tokenizer.json'");
  writer.add("w", at::ones({1}));
  writer.finish();
  EXPECT_EQ(read_text(dir.path / "merged" / "tokenizer.json"), R"({"version":"1.0"})");
}

TEST(CheckpointWriter, SaveCheckpointHonoursMetadataOption) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("w", at::ones({1}));
  CheckpointWriteOptions options;
  options.metadata = {{"format", "pt"}, {"merge_method", "ties"}};
  save_checkpoint(dir.path / "m", tensors, std::nullopt, options);
  CheckpointReader reader(dir.path / "m");
  EXPECT_EQ(reader.shards()[0]->metadata().at("merge_method"), "ties");
  EXPECT_FALSE(reader.config());
}

// ---- CheckpointReader ----

TEST(CheckpointReader, ReadsASingleFileAndCountsParameters) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("a", at::ones({2, 3}, at::kBFloat16));  // 6 elements, 12 bytes
  tensors.insert("b", at::ones({4}, at::kDouble));       // 4 elements, 32 bytes
  write_safetensors(dir.path / "x.safetensors", tensors);
  CheckpointReader reader(dir.path / "x.safetensors");
  EXPECT_EQ(reader.parameter_count(), 10u);
  EXPECT_EQ(reader.tensor_bytes(), 44u);
  EXPECT_EQ(reader.names(), (std::vector<std::string>{"b", "a"}));  // file order: larger elements first
  EXPECT_EQ(reader.entry("a").dtype, Dtype::BF16);
  EXPECT_TRUE(reader.contains("a"));
  EXPECT_FALSE(reader.config());
}

TEST(CheckpointReader, ReadsTheOnlySafetensorsFileInAFolder) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("w", at::arange(3, at::kFloat));
  write_safetensors(dir.path / "adapter.safetensors", tensors);
  expect_bit_exact(CheckpointReader(dir.path).load_all(), tensors);
}

TEST(CheckpointReader, SeveralSafetensorsFilesWithoutIndexAreAnError) {
  ScratchDir dir;
  NamedTensors tensors;
  tensors.insert("w", at::ones({1}));
  write_safetensors(dir.path / "a.safetensors", tensors);
  write_safetensors(dir.path / "b.safetensors", tensors);
  EXPECT_CONTAINS(error_of([&] { CheckpointReader reader(dir.path); }),
                  "holds several .safetensors files (a.safetensors, b.safetensors)");
}

TEST(CheckpointReader, PickleOnlyFolderIsRefusedWithAConversionHint) {
  ScratchDir dir;
  write_text(dir.path / "pytorch_model.bin", "not really a pickle");
  const std::string message = error_of([&] { CheckpointReader reader(dir.path); });
  EXPECT_CONTAINS(message, "pickle");
  EXPECT_CONTAINS(message, "execute arbitrary code");
  EXPECT_CONTAINS(message, "safetensors");
}

TEST(CheckpointReader, InvalidConfigJsonNamesTheFile) {
  ScratchDir dir;
  save_checkpoint(dir.path / "m", five_tensors());
  write_text(dir.path / "m" / "config.json", "{\"hidden_size\": ");
  EXPECT_CONTAINS(error_of([&] { CheckpointReader reader(dir.path / "m"); }),
                  (dir.path / "m" / "config.json").string() + ": invalid JSON");
}

TEST(CheckpointReader, UnknownTensorErrorNamesCheckpointAndTensor) {
  ScratchDir dir;
  save_checkpoint(dir.path / "m", five_tensors());
  CheckpointReader reader(dir.path / "m");
  EXPECT_CONTAINS(error_of([&] { reader.tensor("missing.weight"); }), "no tensor named 'missing.weight'");
}

TEST(CheckpointReader, MissingPathIsAnError) {
  ScratchDir dir;
  EXPECT_CONTAINS(error_of([&] { CheckpointReader reader(dir.path / "nowhere"); }), "no such file or folder");
}

// A three-shard checkpoint whose index each hostile-index test then rewrites.
class CheckpointHostileIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckpointWriteOptions options;
    options.max_shard_bytes = 128;
    save_checkpoint(folder_, five_tensors(), std::nullopt, options);
    index_ = json::parse(read_text(folder_ / "model.safetensors.index.json"));
  }
  std::string open_error() {
    write_text(folder_ / "model.safetensors.index.json", index_.dump());
    return error_of([&] { CheckpointReader reader(folder_); });
  }

  ScratchDir dir_;
  fs::path folder_ = dir_.path / "m";
  json index_;
};

TEST_F(CheckpointHostileIndex, PathTraversalIsRejected) {
  index_["weight_map"]["layer0.weight"] = "../model-00001-of-00003.safetensors";
  EXPECT_CONTAINS(open_error(), "must be a plain file name inside the checkpoint folder");
}

TEST_F(CheckpointHostileIndex, AbsolutePathIsRejected) {
  index_["weight_map"]["layer0.weight"] = "/etc/passwd";
  EXPECT_CONTAINS(open_error(), "'/etc/passwd' must be a plain file name");
}

TEST_F(CheckpointHostileIndex, MissingShardIsRejected) {
  index_["weight_map"]["layer4.weight"] = "model-00009-of-00009.safetensors";
  EXPECT_CONTAINS(open_error(),
                  "shard 'model-00009-of-00009.safetensors' (listed for tensor 'layer4.weight') "
                  "does not exist");
}

TEST_F(CheckpointHostileIndex, TensorListedInTheWrongShardIsRejected) {
  index_["weight_map"]["layer0.weight"] = "model-00002-of-00003.safetensors";
  EXPECT_CONTAINS(open_error(),
                  "tensor 'layer0.weight' is listed in shard 'model-00002-of-00003.safetensors' "
                  "but that file does not hold it");
}

TEST_F(CheckpointHostileIndex, TensorInTwoShardsIsRejected) {
  NamedTensors copy;
  copy.insert("layer0.weight", at::zeros({16}));
  copy.insert("layer4.weight", at::arange(64, 80, at::kFloat));
  write_safetensors(folder_ / "model-00003-of-00003.safetensors", copy);
  EXPECT_CONTAINS(open_error(),
                  "tensor 'layer0.weight' is in two shards, model-00001-of-00003.safetensors and "
                  "model-00003-of-00003.safetensors");
}

TEST_F(CheckpointHostileIndex, InvalidJsonIsRejected) {
  write_text(folder_ / "model.safetensors.index.json", "{\"weight_map\": {");
  EXPECT_CONTAINS(error_of([&] { CheckpointReader reader(folder_); }), "model.safetensors.index.json: invalid JSON");
}

TEST_F(CheckpointHostileIndex, DuplicateWeightMapKeyIsRejected) {
  write_text(folder_ / "model.safetensors.index.json",
             R"({"weight_map": {"layer0.weight": "model-00001-of-00003.safetensors",)"
             R"( "layer0.weight": "model-00002-of-00003.safetensors"}})");
  EXPECT_CONTAINS(error_of([&] { CheckpointReader reader(folder_); }), "duplicate key 'layer0.weight'");
}

TEST_F(CheckpointHostileIndex, WeightMapMustMapNamesToStrings) {
  index_["weight_map"]["layer0.weight"] = 1;
  EXPECT_CONTAINS(open_error(), "weight_map entry for tensor 'layer0.weight': must be a shard file name string");
  index_["weight_map"] = json::array();
  EXPECT_CONTAINS(open_error(), "needs a \"weight_map\" object");
}

TEST_F(CheckpointHostileIndex, TotalSizeMismatchOnlyWarns) {
  index_["metadata"]["total_size"] = 12345;
  write_text(folder_ / "model.safetensors.index.json", index_.dump());
  ::testing::internal::CaptureStderr();
  CheckpointReader reader(folder_);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(reader.names().size(), 5u);
  EXPECT_CONTAINS(log, "metadata.total_size is 12345 but the shards hold 320 bytes");
}

TEST_F(CheckpointHostileIndex, TensorMissingFromWeightMapIsLoadedWithAWarning) {
  index_["weight_map"].erase("layer1.weight");
  write_text(folder_ / "model.safetensors.index.json", index_.dump());
  ::testing::internal::CaptureStderr();
  CheckpointReader reader(folder_);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(reader.contains("layer1.weight"));
  EXPECT_CONTAINS(log, "tensor 'layer1.weight' is in shard model-00001-of-00003.safetensors but not in the weight_map");
}

// ---- atomic files and folders ----

TEST(AtomicFile, WriteFileAtomicallyReplacesContentsAndLeavesNoPartialFile) {
  ScratchDir dir;
  write_file_atomically(dir.path / "f.txt", "first");
  write_file_atomically(dir.path / "f.txt", "second");
  EXPECT_EQ(read_text(dir.path / "f.txt"), "second");
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{"f.txt"});
}

TEST(AtomicFile, UncommittedFileIsRemoved) {
  ScratchDir dir;
  {
    AtomicFile file(dir.path / "f.bin");
    file.write("abc", 3);
    EXPECT_EQ(file.partial_path().parent_path(), dir.path);
    EXPECT_EQ(read_text(file.partial_path()), "abc");
    EXPECT_FALSE(fs::exists(dir.path / "f.bin"));
  }
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{});
}

TEST(AtomicFile, DirectoryCommitRenamesOntoTheTarget) {
  ScratchDir dir;
  AtomicDirectory folder(dir.path / "out/");
  EXPECT_EQ(folder.path().filename().string().rfind("out.partial-", 0), 0u) << folder.path();
  write_text(folder.path() / "x", "1");
  folder.commit();
  EXPECT_EQ(read_text(dir.path / "out" / "x"), "1");
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{"out"});
}

TEST(AtomicFile, DirectoryNamedRelativeToTheWorkingFolderCommits) {
  ScratchDir dir;
  const auto previous = fs::current_path();
  fs::current_path(dir.path);
  std::string error;
  try {
    AtomicDirectory folder("out");  // no parent folder in the name
    write_text(folder.path() / "x", "1");
    folder.commit();
  } catch (const Error& thrown) {
    error = thrown.what();
  }
  fs::current_path(previous);
  EXPECT_EQ(error, "");
  EXPECT_EQ(read_text(dir.path / "out" / "x"), "1");
}

TEST(AtomicFile, UncommittedDirectoryIsRemoved) {
  ScratchDir dir;
  {
    AtomicDirectory folder(dir.path / "out");
    write_text(folder.path() / "x", "1");
  }
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{});
}

TEST(AtomicFile, DirectoryRefusesAnExistingTargetWithoutOverwrite) {
  ScratchDir dir;
  fs::create_directories(dir.path / "out");
  EXPECT_CONTAINS(error_of([&] { AtomicDirectory folder(dir.path / "out"); }), "already exists");
}

}  // namespace
}  // namespace ladle::io
