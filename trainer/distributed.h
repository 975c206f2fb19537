// Data-parallel training across processes or machines with c10d: the process group (Gloo on CPU, NCCL for CUDA
// tensors where libtorch was built with it), set up from torchrun's environment variables.
//
//   MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 WORLD_SIZE=2 RANK=0 LOCAL_RANK=0 ladle train --config train.yml
//   MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 WORLD_SIZE=2 RANK=1 LOCAL_RANK=1 ladle train --config train.yml
//
// (or `torchrun --nproc-per-node 2 --no-python ladle train ...`). Rank 0 hosts the rendezvous (a TCPStore on
// MASTER_PORT); Gloo binds to the interface named by GLOO_SOCKET_IFNAME when set, to the loopback address when
// MASTER_ADDR is a loopback address, else to the address this machine's hostname resolves to.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

#include "trainer/train_config.h"

namespace ladle::trainer {

// torchrun's variables. Without WORLD_SIZE (or with WORLD_SIZE=1) the run is a single process.
struct DistributedEnvironment {
  int rank = 0;             // RANK: this process, 0 .. world_size − 1
  int world_size = 1;       // WORLD_SIZE: processes in the run
  int local_rank = 0;       // LOCAL_RANK: this process on its machine (picks the CUDA device)
  std::string master_addr;  // MASTER_ADDR: where rank 0 listens
  int master_port = 0;      // MASTER_PORT

  // Reads the variables. Throws ladle::Error naming a variable that is missing (when WORLD_SIZE > 1),
  // not a whole number, or out of range.
  static DistributedEnvironment from_environment();
};

// The device this process trains on: `device` as resolved from the config (model::resolve_device), except that a
// CUDA device without an index in a run of several processes becomes cuda:LOCAL_RANK, one GPU per process as
// torchrun lays them out (an explicit cuda:N is kept: the user chose it).
at::Device process_device(at::Device device, const DistributedEnvironment& environment);

// A process group, or its single-process stand-in where every collective returns its input.
class ProcessGroup {
 public:
  // A single process.
  ProcessGroup();
  // Joins the run `environment` describes (blocks until every process has joined, up to the timeout). The
  // backend is config.backend, "auto" choosing NCCL for CUDA devices and Gloo otherwise. Throws ladle::Error
  // when the backend is not available in this libtorch or the rendezvous fails.
  ProcessGroup(const DistributedEnvironment& environment, const DistributedConfig& config, at::Device device);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  bool is_main() const { return rank_ == 0; }
  const std::string& backend() const { return backend_; }

  // In place: the elementwise sum over every process (every process gets the same values).
  void all_reduce_sum(at::Tensor& tensor);
  // In place: rank root's values on every process.
  void broadcast(at::Tensor& tensor, int root = 0);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0;
  int world_size_ = 1;
  at::Device device_ = at::kCPU;  // where the model lives (collectives of the NCCL backend run there)
  std::string backend_ = "none";
};

}  // namespace ladle::trainer
