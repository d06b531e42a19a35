// ThreadPoolExecutor: the pool behind to_thread / run_in_executor for blocking calls.
//
// Bounded (Python's default bound min(32, cores + 4); an unbounded pool is the failure mode of
// Tokio's blocking pool that grows to hundreds of threads): threads are created on demand up to
// the bound, work beyond it waits in a FIFO queue, and a thread idle for `idle_timeout` retires.
// Any thread may submit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <weft/scheduler/executor.hpp>

namespace weft {

class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(std::size_t max_workers,
                              std::chrono::milliseconds idle_timeout = std::chrono::seconds(10));
  ~ThreadPoolExecutor() override;

  void submit(detail::UniqueFunction fn) override;
  void shutdown(bool wait = true) override;

  [[nodiscard]] std::size_t max_workers() const noexcept { return max_workers_; }
  // Threads alive now (for tests and metrics).
  [[nodiscard]] std::size_t thread_count() const;

 private:
  void worker();
  void reap_locked();

  const std::size_t max_workers_;
  const std::chrono::milliseconds idle_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<detail::UniqueFunction> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;          // guarded by mu_
  std::vector<std::thread::id> retired_;      // guarded by mu_: exited, not yet joined
  std::size_t alive_ = 0;                     // guarded by mu_
  std::size_t idle_ = 0;                      // guarded by mu_
  bool shutdown_ = false;                     // guarded by mu_
};

}  // namespace weft
