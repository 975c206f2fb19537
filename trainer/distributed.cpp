#include "trainer/distributed.h"

// libtorch's ProcessGroupGloo header is guarded by USE_C10D_GLOO, which Debian's torch_cpu CMake target defines for
// everything linking it (INTERFACE_COMPILE_DEFINITIONS); the <gloo/...> headers come from libgloo-dev.
#ifndef USE_C10D_GLOO
#error "USE_C10D_GLOO is not defined: link ladle against libtorch's CMake targets (find_package(Torch))"
#endif

#include <ATen/ATen.h>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <vector>

#include "lib/log/log.h"
#include "lib/model/device.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::trainer {
namespace {

// The variable's value as a whole number in [low, high]; `fallback` when unset.
int environment_integer(const char* name, int fallback, int low, int high) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  try {
    std::size_t used = 0;
    const long value = std::stol(text, &used);
    if (used != std::string(text).size()) throw std::invalid_argument(text);
    if (value < low || value > high) {
      throw Error(std::string(name) + "=" + text + " is outside [" + std::to_string(low) + ", " + std::to_string(high) +
                  "]");
    }
    return static_cast<int>(value);
  } catch (const std::logic_error&) {
    throw Error(std::string(name) + "='" + text + "' is not a whole number");
  }
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || starts_with(address, "127.") || address == "::1";
}

}  // namespace

DistributedEnvironment DistributedEnvironment::from_environment() {
  DistributedEnvironment environment;
  environment.world_size = environment_integer("WORLD_SIZE", 1, 1, 1 << 20);
  if (environment.world_size == 1) return environment;
  for (const char* name : {"RANK", "MASTER_ADDR", "MASTER_PORT"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
      throw Error(std::string("WORLD_SIZE=") + std::to_string(environment.world_size) + " but " + name +
                  " is not set (set RANK, MASTER_ADDR and MASTER_PORT as torchrun does)");
    }
  }
  environment.rank = environment_integer("RANK", 0, 0, environment.world_size - 1);
  environment.local_rank = environment_integer("LOCAL_RANK", 0, 0, 1 << 20);
  environment.master_addr = std::getenv("MASTER_ADDR");
  environment.master_port = environment_integer("MASTER_PORT", 0, 1, 65535);
  return environment;
}

at::Device process_device(at::Device device, const DistributedEnvironment& environment) {
  if (!device.is_cuda() || device.has_index() || environment.world_size == 1) return device;
  const std::string name = "cuda:" + std::to_string(environment.local_rank);
  if (const std::string problem = model::device_problem(name); !problem.empty()) {
    throw Error("LOCAL_RANK=" + std::to_string(environment.local_rank) + " picks " + name + ": " + problem);
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(environment.local_rank));
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
};

ProcessGroup::ProcessGroup() = default;

ProcessGroup::ProcessGroup(const DistributedEnvironment& environment, const DistributedConfig& config,
                           at::Device device)
    : rank_(environment.rank), world_size_(environment.world_size), device_(device) {
  if (world_size_ == 1) return;
  backend_ = config.backend == "auto" ? (device.is_cuda() ? "nccl" : "gloo") : config.backend;
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(config.timeout_seconds * 1000));
  impl_ = std::make_unique<Impl>();
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(environment.master_port);
    store_options.isServer = environment.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(environment.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(environment.master_addr, store_options);
    if (backend_ == "gloo") {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      if (interface != nullptr && *interface != '\0') {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      } else if (is_loopback(environment.master_addr)) {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      options->threads = 2;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, rank_, world_size_, options);
    } else {
#ifdef USE_C10D_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, rank_, world_size_, options);
#else
      throw Error("distributed.backend nccl: this libtorch was built without NCCL (use gloo)");
#endif
    }
  } catch (const c10::Error& error) {
    throw Error("distributed: rank " + std::to_string(rank_) + " of " + std::to_string(world_size_) +
                " could not join the process group at " + environment.master_addr + ":" +
                std::to_string(environment.master_port) + " (" + backend_ + "): " + error.what_without_backtrace());
  }
  LADLE_LOG(info) << "distributed: rank " << rank_ << " of " << world_size_ << " joined (" << backend_ << ", "
                  << environment.master_addr << ":" << environment.master_port << ")";
}

ProcessGroup::~ProcessGroup() = default;

namespace {

// Runs `collective` on `tensor`, through a copy on the group's device when the backend needs one there (NCCL
// reduces CUDA tensors only; the step's loss and token counts are CPU tensors).
template <class Collective>
void on_group_device(at::Tensor& tensor, at::Device device, const std::string& backend, Collective collective) {
  if (backend != "nccl" || tensor.device() == device) {
    std::vector<at::Tensor> tensors{tensor};
    collective(tensors);
    return;
  }
  std::vector<at::Tensor> staged{tensor.to(device)};
  collective(staged);
  tensor.copy_(staged.front());
}

}  // namespace

void ProcessGroup::all_reduce_sum(at::Tensor& tensor) {
  if (!impl_) return;
  on_group_device(tensor, device_, backend_,
                  [this](std::vector<at::Tensor>& tensors) { impl_->group->allreduce(tensors)->wait(); });
}

void ProcessGroup::broadcast(at::Tensor& tensor, int root) {
  if (!impl_) return;
  c10d::BroadcastOptions options;
  options.rootRank = root;
  on_group_device(tensor, device_, backend_,
                  [&](std::vector<at::Tensor>& tensors) { impl_->group->broadcast(tensors, options)->wait(); });
}

void ProcessGroup::barrier() {
  if (!impl_) return;
  impl_->group->barrier()->wait();
}

}  // namespace ladle::trainer
