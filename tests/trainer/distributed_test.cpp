// Data-parallel training: two `ladle train` processes joined over loopback with Gloo, each with half of the same
// global batch, end with the weights of one process training on the whole batch.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/cuda.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/io/checkpoint_reader.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/distributed.h"

extern char** environ;

namespace ladle::trainer {
namespace {

using ladle::testing::read_text_file;

// Starts `ladle args...` with extra environment variables, its output going to `log`.
pid_t spawn_ladle(const std::vector<std::string>& args, const std::vector<std::string>& extra_environment,
                  const std::string& log) {
  std::vector<std::string> environment(extra_environment);
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  std::vector<char*> envp, argv{const_cast<char*>(LADLE_CLI_PATH)};
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> arguments(args);
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const pid_t child = fork();
  if (child == 0) {
    dup2(out, 1);
    dup2(out, 2);
    execve(LADLE_CLI_PATH, argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  return child;
}

int wait_for(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(DistributedDataParallel, TwoProcessesWithHalfBatchesGiveTheWeightsOfOneProcess) {
  const std::string dir = ladle::testing::make_temp_dir("ddp");
  testing::write_jsonl(dir + "/train.jsonl", testing::tiny_records(16));
  testing::write_jsonl(dir + "/valid.jsonl", testing::tiny_records(7, 100));
  ladle::testing::write_text_file(dir + "/train.yml",
                                  "max_steps: 4\nthreads: 1\nlog_every_steps: 1\n"
                                  "model: {config: " +
                                      testing::tiny_llama_json().dump() +
                                      "}\n"
                                      "tokenizer: {type: byte}\n"
                                      "data: {train: train.jsonl, valid: valid.jsonl}\n"
                                      "optimizer: {weight_decay: 0.1}\n"
                                      "evaluation: {generation_examples: 5, max_new_tokens: 3}\n");
  const std::vector<std::string> train = {"-q", "train", "--config", dir + "/train.yml"};
  const auto with = [&](std::vector<std::string> args, const std::string& output, const std::string& batch) {
    args.insert(args.end(), {"--set", "output_dir=" + output, "--set", "batch_size=" + batch});
    return args;
  };

  const pid_t single = spawn_ladle(with(train, dir + "/one", "4"), {}, dir + "/one.log");
  ASSERT_EQ(wait_for(single), 0) << read_text_file(dir + "/one.log");

  const std::string port = std::to_string(ladle::testing::free_tcp_port());
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    ranks.push_back(spawn_ladle(with(train, dir + "/two", "2"),
                                {"MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port, "WORLD_SIZE=2",
                                 "RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank)},
                                dir + "/rank" + std::to_string(rank) + ".log"));
  }
  for (int rank = 0; rank < 2; ++rank) {
    const std::string log = dir + "/rank" + std::to_string(rank) + ".log";
    ASSERT_EQ(wait_for(ranks[static_cast<std::size_t>(rank)]), 0) << read_text_file(log);
  }

  const NamedTensors one = io::CheckpointReader(dir + "/one/final").load_all();
  const NamedTensors two = io::CheckpointReader(dir + "/two/final").load_all();
  ASSERT_EQ(one.names(), two.names());
  const NamedTensors start = testing::parameters_of(*testing::tiny_model());
  for (const auto& [name, tensor] : one) {
    EXPECT_TRUE(at::allclose(two.at(name), tensor, 1e-4, 1e-6)) << name;
    EXPECT_FALSE(at::equal(tensor, start.at(name))) << name << " did not train";
  }
  // Rank 0 alone wrote the metrics: one line per step, then the final evaluation, which the two processes shared
  // (each evaluated half of the held-out examples) and which agrees with the single process's.
  const auto read_lines = [](const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
  };
  const auto one_lines = read_lines(dir + "/one/metrics.jsonl"), two_lines = read_lines(dir + "/two/metrics.jsonl");
  ASSERT_EQ(two_lines.size(), 5u);
  ASSERT_EQ(one_lines.size(), 5u);
  EXPECT_EQ(two_lines.back().at("kind"), "eval");
  EXPECT_EQ(two_lines.back().at("eval/examples"), 7);
  EXPECT_NEAR(two_lines.back().at("eval/loss").get<double>(), one_lines.back().at("eval/loss").get<double>(), 1e-4);
  EXPECT_EQ(two_lines.back().at("eval/exact_match"), one_lines.back().at("eval/exact_match"));
  std::filesystem::remove_all(dir);
}

TEST(DistributedEnvironment, WorldSizeWithoutRankNamesTheMissingVariable) {
  setenv("WORLD_SIZE", "2", 1);
  unsetenv("RANK");
  const auto message = ladle::testing::error_message([] { DistributedEnvironment::from_environment(); });
  setenv("RANK", "5", 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "29500", 1);
  const auto out_of_range = ladle::testing::error_message([] { DistributedEnvironment::from_environment(); });
  for (const char* name : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(name);
  EXPECT_TRUE(ladle::testing::contains(message, "RANK is not set")) << message;
  EXPECT_TRUE(ladle::testing::contains(out_of_range, "RANK=5 is outside [0, 1]")) << out_of_range;
  EXPECT_EQ(DistributedEnvironment::from_environment().world_size, 1);
}

TEST(DistributedEnvironment, AProcessOfSeveralTrainsOnTheGpuItsLocalRankNames) {
  DistributedEnvironment two_processes;
  two_processes.world_size = 2;
  two_processes.rank = 1;
  two_processes.local_rank = 1;
  // Kept as given: the CPU, an explicit GPU, and any device in a single-process run.
  EXPECT_EQ(process_device(at::Device(at::kCPU), two_processes), at::Device(at::kCPU));
  EXPECT_EQ(process_device(at::Device(at::kCUDA, 0), two_processes), at::Device(at::kCUDA, 0));
  EXPECT_EQ(process_device(at::Device(at::kCUDA), DistributedEnvironment{}), at::Device(at::kCUDA));
  // `cuda` in a run of several processes is cuda:LOCAL_RANK; here, without CUDA, that device is refused by name.
  if (torch::cuda::device_count() > 1) {
    EXPECT_EQ(process_device(at::Device(at::kCUDA), two_processes), at::Device(at::kCUDA, 1));
  } else {
    const auto message = ladle::testing::error_message([&] { process_device(at::Device(at::kCUDA), two_processes); });
    EXPECT_TRUE(ladle::testing::contains(message, "LOCAL_RANK=1 picks cuda:1: ")) << message;
  }
}

}  // namespace
}  // namespace ladle::trainer
