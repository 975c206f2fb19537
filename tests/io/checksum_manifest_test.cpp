// A folder's checksums.json: hashes are XXH3-128 as xxh128sum prints them (reference digests from Debian's
// xxhash 0.8.1 tool), a folder verifies right after its manifest is written, and every kind of damage (a flipped
// byte, a truncated, missing or added file, a broken manifest, a manifest naming a path outside the folder) is one
// problem naming the file.
#include "lib/io/checksum_manifest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::io {
namespace {

namespace fs = std::filesystem;
using ladle::testing::contains;
using ladle::testing::write_text_file;

class ChecksumManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("checksum-manifest");
    fs::create_directories(dir_ / "model");
    fs::create_directories(dir_ / "callbacks/ema");
    write_text_file(dir_ / "trainer_state.json", "{\"step\": 4}\n");
    write_text_file(dir_ / "model/model.safetensors", std::string(1000, '\0'));
    write_text_file(dir_ / "callbacks/ema/empty", "");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Changes one byte of a file in place (its size stays).
  void flip_byte(const fs::path& file, std::streamoff offset) const {
    std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekg(offset);
    const char byte = static_cast<char>(stream.get());
    stream.seekp(offset);
    stream.put(static_cast<char>(byte ^ 0x01));
  }

  // The single problem verification finds; a test failure when there are more or none.
  ChecksumProblem only_problem() const {
    const ChecksumVerification check = verify_checksum_manifest(dir_);
    EXPECT_TRUE(check.manifest_found);
    EXPECT_EQ(check.problems.size(), 1u) << describe_problems(dir_, check.problems);
    return check.problems.empty() ? ChecksumProblem{} : check.problems.front();
  }

  fs::path dir_;
};

TEST_F(ChecksumManifestTest, HashesAreXxh3With128BitsInXxh128sumsForm) {
  // `printf '' | xxh128sum`, `printf ladle | xxh128sum`, `head -c 1000 /dev/zero | xxh128sum`.
  EXPECT_EQ(xxh3_128_of_file(dir_ / "callbacks/ema/empty"), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(xxh3_128_of_file(write_text_file(dir_ / "word", "ladle")), "eb2a7b2b3a0a1cfb8ea36516d41a1f40");
  EXPECT_EQ(xxh3_128_of_file(dir_ / "model/model.safetensors"), "3fb94aea6d09b97224c1ea6074dd588c");
}

TEST_F(ChecksumManifestTest, AFolderVerifiesRightAfterItsManifestIsWritten) {
  write_checksum_manifest(dir_);
  const ChecksumVerification check = verify_checksum_manifest(dir_);
  EXPECT_TRUE(check.verified()) << describe_problems(dir_, check.problems);
  EXPECT_EQ(check.files_checked, 3u);
  EXPECT_EQ(check.bytes_checked, 1000u + 12u);
  const std::string manifest = ladle::testing::read_text_file(dir_ / kChecksumManifestFile);
  EXPECT_TRUE(contains(manifest, "\"model/model.safetensors\"")) << manifest;
  EXPECT_TRUE(contains(manifest, "3fb94aea6d09b97224c1ea6074dd588c")) << manifest;
}

TEST_F(ChecksumManifestTest, AFlippedByteIsAProblemNamingTheFile) {
  write_checksum_manifest(dir_);
  flip_byte(dir_ / "model/model.safetensors", 517);
  const ChecksumProblem problem = only_problem();
  EXPECT_EQ(problem.file, "model/model.safetensors");
  EXPECT_TRUE(contains(problem.what, "content differs")) << problem.what;
  EXPECT_TRUE(contains(problem.what, "the manifest says 3fb94aea6d09b97224c1ea6074dd588c")) << problem.what;
  EXPECT_TRUE(contains(describe_problems(dir_, {problem}), (dir_ / "model/model.safetensors").string() + ": "));
}

TEST_F(ChecksumManifestTest, ATruncatedFileIsASizeProblem) {
  write_checksum_manifest(dir_);
  fs::resize_file(dir_ / "model/model.safetensors", 600);
  const ChecksumProblem problem = only_problem();
  EXPECT_EQ(problem.file, "model/model.safetensors");
  EXPECT_EQ(problem.what, "size 600 bytes, the manifest says 1000");
}

TEST_F(ChecksumManifestTest, AMissingAndAnAddedFileAreEachAProblem) {
  write_checksum_manifest(dir_);
  fs::remove(dir_ / "callbacks/ema/empty");
  write_text_file(dir_ / "model/model-00002-of-00002.safetensors", "stray");
  const ChecksumVerification check = verify_checksum_manifest(dir_);
  ASSERT_EQ(check.problems.size(), 2u) << describe_problems(dir_, check.problems);
  EXPECT_EQ(check.problems[0].file, "callbacks/ema/empty");
  EXPECT_EQ(check.problems[0].what, "missing");
  EXPECT_EQ(check.problems[1].file, "model/model-00002-of-00002.safetensors");
  EXPECT_EQ(check.problems[1].what, "not in the manifest");
}

TEST_F(ChecksumManifestTest, AFolderWithoutAManifestIsNotVerifiedButHasNoProblems) {
  const ChecksumVerification check = verify_checksum_manifest(dir_);
  EXPECT_FALSE(check.manifest_found);
  EXPECT_FALSE(check.verified());
  EXPECT_TRUE(check.problems.empty());
  EXPECT_FALSE(verify_checksum_manifest(dir_ / "not-there").manifest_found);
}

TEST_F(ChecksumManifestTest, ABrokenManifestIsAProblemOfTheManifest) {
  write_checksum_manifest(dir_);
  std::string manifest = ladle::testing::read_text_file(dir_ / kChecksumManifestFile);
  write_text_file(dir_ / kChecksumManifestFile, manifest.substr(0, manifest.size() / 2));
  ChecksumProblem problem = only_problem();
  EXPECT_EQ(problem.file, kChecksumManifestFile);
  EXPECT_TRUE(contains(problem.what, "malformed manifest: invalid JSON")) << problem.what;

  manifest.replace(manifest.find("\"size\": 1000"), 12, "\"size\": \"1k\"");
  write_text_file(dir_ / kChecksumManifestFile, manifest);
  problem = only_problem();
  EXPECT_TRUE(contains(problem.what, "files.model/model.safetensors: expected {\"size\"")) << problem.what;

  // Header fields of another type are a mismatch, not nlohmann's type_error escaping as an internal error.
  for (const auto& [field, value] :
       {std::pair{"format", "3"}, std::pair{"version", "\"1\""}, std::pair{"hash", "[]"}}) {
    write_checksum_manifest(dir_);
    nlohmann::json json = nlohmann::json::parse(ladle::testing::read_text_file(dir_ / kChecksumManifestFile));
    json[field] = nlohmann::json::parse(value);
    write_text_file(dir_ / kChecksumManifestFile, json.dump());
    problem = only_problem();
    EXPECT_TRUE(contains(problem.what, "malformed manifest: expected")) << field << ": " << problem.what;
  }
}

TEST_F(ChecksumManifestTest, AManifestNamingAPathOutsideTheFolderIsAProblem) {
  const std::string empty = "{\"size\": 0, \"xxh3_128\": \"99aa06d3014798d86001c324468d497f\"}";
  fs::remove(dir_ / "trainer_state.json");
  fs::remove_all(dir_ / "model");
  write_text_file(dir_ / kChecksumManifestFile,
                  "{\"format\": \"ladle-checksums\", \"version\": 1, \"hash\": \"XXH3-128\", \"files\": "
                  "{\"callbacks/ema/empty\": " +
                      empty + ", \"../outside\": " + empty + "}}");
  const ChecksumProblem problem = only_problem();
  EXPECT_EQ(problem.file, "../outside");
  EXPECT_EQ(problem.what, "the manifest names a path outside the folder");
}

}  // namespace
}  // namespace ladle::io
