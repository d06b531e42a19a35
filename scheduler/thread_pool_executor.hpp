// ThreadPoolExecutor: the pool behind to_thread / run_in_executor for blocking calls.
//
// Bounded (Python's default bound min(32, cores + 4); an unbounded pool is the failure mode of
// Tokio's blocking pool that grows to hundreds of threads): threads are created on demand up to
// the bound, work beyond it waits in a FIFO queue, and a thread idle for `idle_timeout` retires.
//
// Threads: submit() and thread_count() from any thread. shutdown(wait = true) from any thread
// but the pool's own (it would wait for itself: RuntimeError, as Python's join of the current
// thread); the destructor likewise. Work queued before shutdown still runs (Python's default
// cancel_futures=False).
//
// Invariants (all under mu_):
//   - alive_ <= max_workers_; alive_ counts threads inside worker(), busy or idle.
//   - idle_ counts threads waiting in cv_ for work. A submit hands its item to an idle thread only
//     while queue_.size() <= idle_ (each idle thread will take at least one); otherwise it starts a
//     thread, so items never queue behind busy threads while the bound allows another one.
//   - queue_ non-empty implies alive_ > 0 (a thread exists that will drain it).
//   - at most one idle thread spins (spinner_) instead of sleeping in cv_, for up to kSpinFor,
//     watching queued_; it counts in idle_, and a submit that it will pick up does not notify
//     cv_. This is Go's "spinning M": a burst of small calls (to_thread's common case) then costs
//     no futex wake-up and context switch per call.
//   - threads_ holds every std::thread not yet joined; retired_ names those that left worker()
//     after an idle timeout (joined at the next spawn or at shutdown).
#pragma once

#include <atomic>
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
  // Threads waiting for work now (for tests and metrics).
  [[nodiscard]] std::size_t idle_count() const;

 private:
  void worker();
  void reap_locked();

  const std::size_t max_workers_;
  const std::chrono::milliseconds idle_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;                // work arrived, or shutdown
  std::condition_variable all_exited_;        // alive_ reached 0 after shutdown
  std::deque<detail::UniqueFunction> queue_;  // guarded by mu_
  std::vector<std::thread> threads_;          // guarded by mu_
  std::vector<std::thread::id> retired_;      // guarded by mu_: exited, not yet joined
  std::size_t alive_ = 0;                     // guarded by mu_
  std::size_t idle_ = 0;                      // guarded by mu_
  bool spinner_ = false;                      // guarded by mu_
  bool shutdown_ = false;                     // guarded by mu_
  // queue_.size(), written under mu_ and read without it by the spinner (relaxed: a hint; the
  // spinner takes mu_ before it touches the queue).
  std::atomic<std::size_t> queued_{0};
  std::atomic<bool> stop_spin_{false};
};

}  // namespace weft
