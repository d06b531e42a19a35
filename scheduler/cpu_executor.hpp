// CpuExecutor: an Executor over a oneTBB task_arena, for CPU-bound work submitted with
// run_in_executor. Work runs on oneTBB's worker threads, never on the event loops, and may use
// oneTBB's parallel algorithms: a tbb::parallel_for called inside a submitted call runs in this
// arena; from anywhere else, wrap it in arena().execute(...).
//
// Threads: submit(), shutdown() and arena() from any thread. submit() never blocks (it is
// task_arena::enqueue), so an event loop may call it. shutdown(wait = true) must not be called
// from inside the arena (it would wait for the very call running it: RuntimeError).
//
// Concurrency: at most max_concurrency() calls run at once. oneTBB's worker pool holds one thread
// fewer than the cores by default (it expects the main thread to join in); while a CpuExecutor
// lives it raises that limit (tbb::global_control::max_allowed_parallelism, process-wide) to
// max_concurrency() + 1 so that all its slots get a worker.
//
// ThreadSanitizer: oneTBB ships uninstrumented, so TSan cannot see the synchronisation inside
// libtbb and reports oneTBB's inline header code (its task objects' vptr and fields, memory its
// small-object pool reuses across threads) racing with itself; tests/tsan.supp suppresses those.
// weft's own hand-off into the arena is made visible to TSan (see Call in the .cpp), so races in
// the submitted callables are still reported.
//
// Invariants (under mu_): in_flight_ counts calls submitted and not yet finished; once
// shutdown_ is set it only falls, and all_done_ is notified, under mu_, when it reaches 0.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

#include <memory>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <weft/scheduler/executor.hpp>

namespace weft {

class CpuExecutor final : public Executor {
 public:
  // max_concurrency: the arena's slots; tbb::task_arena::automatic (the default) is oneTBB's
  // default concurrency (the cores this process may use).
  explicit CpuExecutor(int max_concurrency = tbb::task_arena::automatic);
  CpuExecutor(const CpuExecutor&) = delete;
  CpuExecutor& operator=(const CpuExecutor&) = delete;
  // Waits for every submitted call (shutdown(true)).
  ~CpuExecutor() override;

  void submit(detail::UniqueFunction fn) override;
  void shutdown(bool wait = true) override;

  // The arena the calls run in: arena().execute([&] { tbb::parallel_for(...); }).
  [[nodiscard]] tbb::task_arena& arena() noexcept { return arena_; }
  [[nodiscard]] int max_concurrency() const { return arena_.max_concurrency(); }
  // Calls submitted and not yet finished (for tests and metrics).
  [[nodiscard]] std::size_t in_flight() const;

 private:
  struct Job;
  struct Call;
  void finished() noexcept;

  // oneTBB's worker pool defaults to cores - 1 threads (it expects a master thread to join);
  // an arena fed only by enqueue needs max_concurrency workers, so the executor raises the
  // process-wide limit to match while it lives (else oneTBB warns and runs N - 1 calls at once).
  std::unique_ptr<tbb::global_control> parallelism_;
  tbb::task_arena arena_;
  mutable std::mutex mu_;
  std::condition_variable all_done_;
  std::size_t in_flight_ = 0;  // guarded by mu_
  bool shutdown_ = false;      // guarded by mu_
};

}  // namespace weft
