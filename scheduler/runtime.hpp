// Runtime: the worker threads and their loops; Runner and run(): asyncio's entry points.
//
// Worker 0 is the thread that calls run(): the main task starts there (it may migrate like any
// task). Workers 1..N-1 are threads of the runtime, running their loops until close().
//
// Idle coordination (after Tokio's idle.rs): at most half the workers search (steal) at once;
// a worker with nothing to do parks in its reactor. A worker that makes stealable work wakes one
// parked worker only when nobody is searching. The race "I push work / you decide to park" is
// closed by a Dekker pair of seq_cst fences: the pusher fences then reads num_parked_; the parker
// registers in num_parked_, fences, then re-checks every ring and the global queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include <weft/core/coro.hpp>
#include <weft/core/detail/atomic.hpp>
#include <weft/core/task.hpp>
#include <weft/scheduler/detail/inject_queue.hpp>
#include <weft/scheduler/event_loop.hpp>
#include <weft/scheduler/executor.hpp>
#include <weft/scheduler/metrics.hpp>

namespace weft {

struct RunOptions {
  std::size_t workers = 0;  // 0: std::thread::hardware_concurrency()
  // Debug mode: slow callbacks / task steps are reported with the task's name, never-awaited
  // coroutines too. Also switched on by the environment variable WEFT_DEBUG=1.
  bool debug = false;
  std::chrono::milliseconds slow_callback_duration{100};
  // The default ThreadPoolExecutor's bound; 0: min(32, cores + 4), as Python's.
  std::size_t max_blocking_threads = 0;
};

class Runtime {
 public:
  explicit Runtime(RunOptions options = {});
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime();

  // Runs `main` as a task with worker 0 on the calling thread until it finishes; returns its
  // result or rethrows its exception. Other tasks keep running (Runner semantics).
  template <class T>
  T run(Coro<T> main);

  // Cancels every remaining task and waits for them, shuts the executors down, joins every
  // worker, closes the loops. Idempotent.
  void close();
  [[nodiscard]] bool closed() const noexcept { return closed_; }

  [[nodiscard]] std::size_t workers() const noexcept { return loops_.size(); }
  [[nodiscard]] EventLoop& loop(std::size_t i) const noexcept { return *loops_[i]; }
  [[nodiscard]] std::vector<WorkerMetrics> metrics() const;
  [[nodiscard]] const RunOptions& options() const noexcept { return options_; }

  // The executor behind to_thread / run_in_executor(nullptr, ...).
  Executor& default_executor();
  void set_default_executor(std::shared_ptr<Executor> executor);

  // ---- internals used by EventLoop ----
  detail::InjectQueue& inject() noexcept { return inject_; }
  // A worker produced stealable work: wake a parked worker if nobody is searching.
  void notify_work() noexcept;
  // Searching: returns false when half the workers already search.
  bool try_start_searching() noexcept;
  // Leaves the searching state; returns true if this was the last searcher.
  bool stop_searching() noexcept;
  void register_parked(EventLoop* l);
  // Removes `l` from the parked set if still there (woken by something else than notify).
  void unregister_parked(EventLoop* l);
  // Any stealable work anywhere (rings or global queue)? Used before parking.
  [[nodiscard]] bool has_work() const noexcept;
  [[nodiscard]] const detail::atomic<bool>& stopping() const noexcept { return stopping_; }
  // all_tasks(): every loop's live tasks.
  std::vector<Task<>> all_tasks() const;

 private:
  void worker_main(std::size_t index);
  void drive_until_done(const std::vector<detail::TaskBase*>& tasks);
  void cancel_all_tasks();

  RunOptions options_;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
  detail::InjectQueue inject_;
  detail::atomic<bool> stopping_{false};
  bool closed_ = false;

  alignas(detail::kCacheLine) detail::atomic<int> num_searching_{0};
  detail::atomic<int> num_parked_{0};
  std::mutex idle_mu_;
  std::vector<EventLoop*> parked_;  // guarded by idle_mu_

  std::mutex executor_mu_;
  std::shared_ptr<Executor> default_executor_;  // guarded by executor_mu_
  // Replaced default executors live until close(): a to_thread that read the old one just
  // before set_default_executor() may still be submitting to it.
  std::vector<std::shared_ptr<Executor>> retired_executors_;  // guarded by executor_mu_
};

namespace detail {

// Wakes a runtime's loop 0 when the main task (or a set of tasks) is done.
struct StopWhenDone : WaiterNode {
  StopWhenDone() noexcept : WaiterNode(&StopWhenDone::fire) {}
  atomic<int> remaining{0};
  atomic<bool> stop{false};
  EventLoop* loop = nullptr;

 private:
  static void fire(WaiterNode* n, FutureBase*) noexcept {
    auto* self = static_cast<StopWhenDone*>(n);
    EventLoop* l = self->loop;
    if (self->remaining.fetch_sub(1, memory_order_acq_rel) == 1) {
      self->stop.store(true, memory_order_seq_cst);  // Dekker pair with park()
      l->wake();
    }
  }
};

// One StopWhenDone waits for one task; a group uses several nodes sharing a counter.
struct StopNode : WaiterNode {
  StopNode() noexcept : WaiterNode(&StopNode::fire) {}
  StopWhenDone* group = nullptr;

 private:
  static void fire(WaiterNode* n, FutureBase*) noexcept {
    StopWhenDone* g = static_cast<StopNode*>(n)->group;
    EventLoop* l = g->loop;
    if (g->remaining.fetch_sub(1, memory_order_acq_rel) == 1) {
      g->stop.store(true, memory_order_seq_cst);  // Dekker pair with park()
      l->wake();
    }
  }
};

}  // namespace detail

template <class T>
T Runtime::run(Coro<T> main) {
  if (detail::tls_running_loop != nullptr) {
    throw RuntimeError("weft::run() cannot be called from a running event loop");
  }
  if (closed_) throw RuntimeError("Runner is closed");
  if (!main.valid()) throw ValueError("a coroutine was expected, got an empty or awaited Coro");
  EventLoop& l0 = *loops_[0];
  l0.enter();
  struct Leave {
    EventLoop& l;
    ~Leave() { l.leave(); }
  } leave{l0};
  Task<T> task = l0.create_task(std::move(main), {.name = "main"});
  detail::StopWhenDone done;
  done.loop = &l0;
  done.remaining.store(1, detail::memory_order_relaxed);
  detail::StopNode node;
  node.group = &done;
  if (task.base()->add_waiter(&node)) l0.run_until(done.stop);
  return task.result();
}

// asyncio.Runner: one runtime across several run() calls.
class Runner {
 public:
  explicit Runner(RunOptions options = {}) : rt_(options) {}
  ~Runner() { close(); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  template <class T>
  T run(Coro<T> main) {
    if (rt_.closed()) throw RuntimeError("Runner is closed");
    return rt_.run(std::move(main));
  }
  void close() { rt_.close(); }
  // Worker 0's loop (the one run() drives on the calling thread).
  EventLoop& get_loop() {
    if (rt_.closed()) throw RuntimeError("Runner is closed");
    return rt_.loop(0);
  }
  Runtime& runtime() noexcept { return rt_; }

 private:
  Runtime rt_;
};

// asyncio.run: a fresh runtime, `main` to completion, then the asyncio.run shutdown sequence.
template <class T>
T run(Coro<T> main, RunOptions options = {}) {
  if (detail::tls_running_loop != nullptr) {
    throw RuntimeError("weft::run() cannot be called from a running event loop");
  }
  Runner runner(options);
  if constexpr (std::is_void_v<T>) {
    runner.run(std::move(main));
    runner.close();
  } else {
    T result = runner.run(std::move(main));
    runner.close();
    return result;
  }
}

// Every task not yet done, on every loop of the running runtime.
std::vector<Task<>> all_tasks();

}  // namespace weft
