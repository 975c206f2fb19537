#include "tests/support/command_runner.h"

#include "tests/support/interrupted_command.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ladle::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);  // port 0: the kernel picks a free one
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string make_temp_dir(const std::string& label) {
  static std::mt19937_64 generator{std::random_device{}()};
  auto dir = std::filesystem::temp_directory_path() /
             ("ladle-test-" + label + "-" + std::to_string(getpid()) + "-" + std::to_string(generator() % 1000000));
  std::filesystem::create_directories(dir);
  return dir.string();
}

namespace {

// The child's wait status, after a SIGKILL once `kill_after` has passed when it is given.
int wait_for(pid_t child, std::optional<std::chrono::microseconds> kill_after) {
  int status = 0;
  if (kill_after) {
    const auto deadline = std::chrono::steady_clock::now() + *kill_after;
    while (waitpid(child, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return status;
  }
  waitpid(child, &status, 0);
  return status;
}

// run_command, with a SIGKILL once `kill_after` has passed when it is given.
CommandResult run_command_until(const std::string& program, const std::vector<std::string>& args,
                                std::optional<std::chrono::microseconds> kill_after) {
  const std::string dir = make_temp_dir("run");
  const std::string out_path = dir + "/out", err_path = dir + "/err";
  pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execvp(program.c_str(), argv.data());
    _exit(127);
  }
  const int status = wait_for(child, kill_after);
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace

CommandResult run_command(const std::string& program, const std::vector<std::string>& args) {
  return run_command_until(program, args, std::nullopt);
}

CommandResult run_ladle(const std::vector<std::string>& args) { return run_command(LADLE_CLI_PATH, args); }

CommandResult run_ladle_killed_after(const std::vector<std::string>& args, std::chrono::microseconds delay) {
  return run_command_until(LADLE_CLI_PATH, args, delay);
}

std::string python_program() {
  const char* configured = std::getenv("LADLE_PYTHON");
  return configured != nullptr && *configured != '\0' ? configured : "/usr/bin/python3";
}

}  // namespace ladle::testing
