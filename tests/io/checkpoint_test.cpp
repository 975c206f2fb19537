// Sharded checkpoints: ShardedSafetensorsWriter, CheckpointWriter (atomic folders) and CheckpointReader
// (single files, Hugging Face folders, hostile indexes), plus the atomic file helpers and the direct writes they are
// built on.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/io/aligned_block_writer.h"
#include "lib/io/atomic_file.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/io/safetensors_writer.h"
#include "lib/io/torch_dtype.h"
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

// ---- ShardedSafetensorsWriter with declared tensors ----

// Mixed dtypes (so files order tensors by element size) and a budget that cuts three shards.
NamedTensors mixed_tensors() {
  NamedTensors tensors;
  tensors.insert("a.bf16", at::arange(0, 24, at::kFloat).to(at::kBFloat16));  // 48 bytes
  tensors.insert("b.f32", at::arange(100, 112, at::kFloat));                 // 48 bytes
  tensors.insert("c.i64", at::arange(7, at::kLong));                         // 56 bytes
  tensors.insert("d.f64", at::linspace(-1, 1, 9, at::kDouble));              // 72 bytes
  tensors.insert("e.scalar", at::scalar_tensor(3.5, at::kFloat));            // 4 bytes, 0-d
  tensors.insert("f.empty", at::zeros({0, 4}, at::kHalf));                   // no bytes
  tensors.insert("g.u8", at::arange(5, at::kByte));                          // 5 bytes
  return tensors;
}

std::vector<TensorDeclaration> declarations_of(const NamedTensors& tensors) {
  std::vector<TensorDeclaration> declarations;
  for (const auto& [name, tensor] : tensors) {
    declarations.push_back({name, from_scalar_type(tensor.scalar_type()), tensor.sizes().vec()});
  }
  return declarations;
}

TEST(CheckpointShardedDeclared, WritesTheSameFilesAsAddingTheTensorsInDeclarationOrder) {
  ScratchDir added_dir;
  ScratchDir declared_dir;
  const NamedTensors tensors = mixed_tensors();
  ShardedSafetensorsWriter added(added_dir.path, 100);
  for (const auto& [name, tensor] : tensors) added.add(name, tensor);
  const auto added_shards = added.finish();

  ShardedSafetensorsWriter declared(declared_dir.path, 100);
  declared.declare_tensors(declarations_of(tensors));
  std::vector<std::string> names = tensors.names();
  std::reverse(names.begin(), names.end());  // values may come in any order
  for (const auto& name : names) declared.add(name, tensors.at(name));
  const auto declared_shards = declared.finish();

  ASSERT_EQ(added_shards.size(), 3u);
  ASSERT_EQ(declared_shards.size(), added_shards.size());
  EXPECT_EQ(listing(declared_dir.path), listing(added_dir.path));
  for (const auto& name : listing(added_dir.path)) {
    EXPECT_EQ(read_text(declared_dir.path / name), read_text(added_dir.path / name)) << name;
  }
  const CheckpointReader reader(declared_dir.path);
  for (const auto& [name, tensor] : tensors) EXPECT_TRUE(at::equal(reader.tensor(name), tensor)) << name;
}

TEST(CheckpointShardedDeclared, TensorIsWrittenWhenAddedAndNotKept) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 1 << 20);
  writer.declare_tensors({{"w", Dtype::F32, {4}}});
  at::Tensor values = at::arange(4, at::kFloat);
  writer.add("w", values);
  values.fill_(-1);  // after add(): must not reach the file
  writer.finish();
  expect_bit_exact(CheckpointReader(dir.path).load_all(), [] {
    NamedTensors expected;
    expected.insert("w", at::arange(4, at::kFloat));
    return expected;
  }());
}

TEST(CheckpointShardedDeclared, NoDeclaredTensorsGivesAnEmptyCheckpoint) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 1 << 20);
  writer.declare_tensors({});
  EXPECT_EQ(writer.finish(), std::vector<fs::path>{dir.path / "model.safetensors"});
  EXPECT_EQ(CheckpointReader(dir.path).names().size(), 0u);
}

TEST(CheckpointShardedDeclared, UndeclaredNameIsAnError) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 1 << 20);
  writer.declare_tensors({{"w", Dtype::F32, {2}}});
  EXPECT_CONTAINS(error_of([&] { writer.add("v", at::ones({2})); }), "tensor 'v' was not declared");
}

TEST(CheckpointShardedDeclared, DtypeOrShapeOtherThanDeclaredIsAnError) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 1 << 20);
  writer.declare_tensors({{"w", Dtype::F32, {2, 3}}});
  EXPECT_CONTAINS(error_of([&] { writer.add("w", at::ones({2, 3}, at::kDouble)); }),
                  "tensor 'w' is F64 [2, 3] but was declared F32 [2, 3]");
  EXPECT_CONTAINS(error_of([&] { writer.add("w", at::ones({3, 2})); }),
                  "tensor 'w' is F32 [3, 2] but was declared F32 [2, 3]");
}

TEST(CheckpointShardedDeclared, DeclaredTensorNeverAddedFailsFinishAndLeavesNoFiles) {
  ScratchDir dir;
  {
    ShardedSafetensorsWriter writer(dir.path, 1 << 20);
    writer.declare_tensors({{"w", Dtype::F32, {2}}, {"v", Dtype::F32, {2}}});
    writer.add("w", at::ones({2}));
    EXPECT_CONTAINS(error_of([&] { writer.finish(); }), "tensor 'v' was declared but never added");
  }
  EXPECT_EQ(listing(dir.path), std::vector<std::string>{});
}

TEST(CheckpointShardedDeclared, DeclaringTwiceOrAfterAddIsAnError) {
  ScratchDir dir;
  ShardedSafetensorsWriter declared_twice(dir.path / "a", 1 << 20);
  declared_twice.declare_tensors({{"w", Dtype::F32, {2}}});
  EXPECT_CONTAINS(error_of([&] { declared_twice.declare_tensors({}); }), "must come once, before any tensor");
  ShardedSafetensorsWriter declared_late(dir.path / "b", 1 << 20);
  declared_late.add("w", at::ones({2}));
  EXPECT_CONTAINS(error_of([&] { declared_late.declare_tensors({{"v", Dtype::F32, {2}}}); }),
                  "must come once, before any tensor");
}

TEST(CheckpointShardedDeclared, NameDeclaredTwiceIsAnError) {
  ScratchDir dir;
  ShardedSafetensorsWriter writer(dir.path, 1 << 20);
  EXPECT_CONTAINS(error_of([&] { writer.declare_tensors({{"w", Dtype::F32, {2}}, {"w", Dtype::F32, {2}}}); }),
                  "tensor 'w' is declared twice");
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

TEST(CheckpointReader, ConfigJsonWithAKeyTwiceIsRefused) {
  ScratchDir dir;
  save_checkpoint(dir.path / "m", five_tensors());
  write_text(dir.path / "m" / "config.json", R"({"hidden_size": 16, "hidden_size": 32})");
  EXPECT_CONTAINS(error_of([&] { CheckpointReader reader(dir.path / "m"); }),
                  (dir.path / "m" / "config.json").string() + ": duplicate key 'hidden_size'");
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

// ---- AlignedBlockWriter (direct writes of byte ranges in any order) ----

// Bytes that differ from block to block and within a block: (i * 7 + i / 4096) mod 251.
std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7 + i / 4096) % 251);
  return bytes;
}

// Opens `path` for direct writing; -1 where the file system refuses O_DIRECT (the tests then skip).
int open_direct(const fs::path& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
}

TEST(AlignedBlockWriter, RangesWrittenInAnyOrderGiveTheWholeFile) {
  ScratchDir dir;
  const fs::path path = dir.path / "f";
  const int fd = open_direct(path);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << dir.path;
  // Ranges smaller than a block, straddling block edges, spanning whole blocks and more than one write chunk,
  // and ending mid-block at the end of the file; given out of order.
  const std::size_t size = kDirectWriteChunkBytes + 5 * kDirectIoAlignment + 123;
  const std::size_t long_end = kDirectWriteChunkBytes + 4 * kDirectIoAlignment - 100;
  const std::string expected = pattern(size);
  const std::vector<std::pair<std::size_t, std::size_t>> ranges = {
      {5000, long_end},             // mid-block to mid-block, over more than a chunk
      {0, 10},                      // inside the first block
      {long_end + 2000, size},      // over a block's edge, ending mid-block at the end of the file
      {10, 5000},                   // over the first block's edge
      {long_end, long_end + 2000},  // inside one block
  };
  {
    AlignedBlockWriter writer(fd, path.string());
    for (const auto& [begin, end] : ranges) writer.write_at(begin, expected.data() + begin, end - begin);
    writer.finish();
  }
  ::close(fd);
  EXPECT_EQ(fs::file_size(path), size);
  EXPECT_TRUE(read_text(path) == expected);
}

TEST(AlignedBlockWriter, BytesNeverWrittenReadAsZeros) {
  ScratchDir dir;
  const fs::path path = dir.path / "f";
  const int fd = open_direct(path);
  if (fd < 0) GTEST_SKIP() << "no O_DIRECT on " << dir.path;
  {
    AlignedBlockWriter writer(fd, path.string());
    writer.write_at(3, "abc", 3);
    writer.write_at(9000, "xyz", 3);
    writer.finish();
  }
  ::close(fd);
  std::string expected(9003, '\0');
  expected.replace(3, 3, "abc");
  expected.replace(9000, 3, "xyz");
  EXPECT_TRUE(read_text(path) == expected);
}

TEST(AtomicFile, DirectModeWritesTheSameBytesAsBufferedMode) {
  ScratchDir dir;
  const std::string bytes = pattern(3 * kDirectIoAlignment + 17);
  for (const FileWriteMode mode : {FileWriteMode::kBuffered, FileWriteMode::kDirect}) {
    const fs::path target = dir.path / (mode == FileWriteMode::kDirect ? "direct" : "buffered");
    AtomicFile file(target, mode);
    file.write(bytes.data(), 100);                               // appended
    file.write_at(200, bytes.data() + 200, bytes.size() - 200);  // at an offset, before the gap is filled
    file.write_at(100, bytes.data() + 100, 100);
    file.commit();
    EXPECT_TRUE(read_text(target) == bytes) << target;
    EXPECT_FALSE(fs::exists(file.partial_path())) << target;
  }
}

}  // namespace
}  // namespace ladle::io
