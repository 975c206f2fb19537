// BackgroundWorker: one thread that runs one task at a time, so a weight-average update can overlap the next
// training step (EMA with CPU offload). Torch-free.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace ladle::callbacks {

class BackgroundWorker {
 public:
  BackgroundWorker();
  // Waits for the running task (its exception, if any, is dropped: destructors must not throw), then joins.
  ~BackgroundWorker();
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  // Waits for the previous task (rethrowing its exception), then starts `task` on the worker thread.
  void submit(std::function<void()> task);
  // Blocks until no task is running; rethrows the exception of a task that failed since the last wait().
  void wait();
  // True while a task is queued or running.
  bool busy() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> task_;  // the queued or running task; empty when idle
  std::exception_ptr failure_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace ladle::callbacks
