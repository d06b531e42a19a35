// EventLoop: one per worker thread. Its own ready queues, timers, reactor and inbox; the worker
// that owns it runs it, steals from the other loops' rings when it runs dry, and parks in its
// reactor with the next timer as timeout.
//
// Threads: everything marked "own thread" is for the worker running this loop; the rest is any
// thread. call_soon / call_later from another thread are routed through the inbox, exactly as
// call_soon_threadsafe (asyncio leaves that undefined; on many cores it is too easy to do).
//
// Run queues, in the order a worker looks at them:
//   local_     FIFO, own thread only: callbacks, tasks pinned here, and with one worker
//              everything (so a 1-worker runtime keeps asyncio's exact FIFO order).
//   lifo_slot_ the task most recently woken by this worker (ping-pong locality); at most
//              kMaxLifoRuns in a row, so it cannot starve the ring (Tokio's fix for the same).
//   ring_      stealable tasks (WorkStealingRing); overflow goes to the global injection queue.
//   every kMaintenanceInterval ticks, or when all are empty: inbox, global queue, a zero-timeout
//   reactor poll, expired timers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <weft/core/coro.hpp>
#include <weft/core/detail/atomic.hpp>
#include <weft/core/future.hpp>
#include <weft/core/handle.hpp>
#include <weft/core/loop_base.hpp>
#include <weft/core/task.hpp>
#include <weft/io/reactor.hpp>
#include <weft/io/timer_heap.hpp>
#include <weft/scheduler/detail/inbox.hpp>
#include <weft/scheduler/detail/work_stealing_ring.hpp>
#include <weft/scheduler/metrics.hpp>

namespace weft {

class Runtime;
class Executor;

using ExceptionHandler = std::function<void(class EventLoop&, const ExceptionContext&)>;

class EventLoop final : public detail::LoopBase {
 public:
  // Tokio and Go look at the global queue every 61 ticks: a prime, so it does not beat with
  // common batch sizes.
  static constexpr std::uint32_t kMaintenanceInterval = 61;
  // Tokio's MAX_LIFO_POLLS_PER_TICK.
  static constexpr std::uint32_t kMaxLifoRuns = 3;
  static constexpr std::size_t kRingCapacity = 256;
  // Cross-thread timer cancellations before the heap is swept (below it, lazy removal at the
  // top is cheaper than a sweep).
  static constexpr std::uint32_t kPurgeThreshold = 1024;
  using Ring = detail::WorkStealingRing<detail::Runnable, kRingCapacity>;

  EventLoop(Runtime& rt, std::size_t index, bool single_worker, bool debug);
  ~EventLoop() override;

  // ---- asyncio's loop API ----
  // Seconds on the loop's monotonic clock (loop.time()).
  [[nodiscard]] double time() const noexcept {
    return std::chrono::duration<double>(now().time_since_epoch()).count();
  }
  [[nodiscard]] Clock::time_point now() const noexcept override { return Clock::now(); }

  template <class F>
  Handle call_soon(F&& fn) {
    check_open();
    auto* node = detail::make_callback(this, 2, std::forward<F>(fn));
    post(node);
    return Handle(node);
  }
  template <class F>
  Handle call_soon_threadsafe(F&& fn) {
    check_open();
    auto* node = detail::make_callback(this, 2, std::forward<F>(fn));
    post_threadsafe(node);
    return Handle(node);
  }
  template <class F>
  TimerHandle call_at(Clock::time_point when, F&& fn) {
    check_open();
    auto* node = detail::make_callback<detail::TimerNode>(this, 2, std::forward<F>(fn));
    node->when_ = when;
    add_timer_any_thread(node);
    return TimerHandle(node);
  }
  template <class Rep, class Period, class F>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, F&& fn) {
    return call_at(now() + std::chrono::duration_cast<Clock::duration>(delay), std::forward<F>(fn));
  }
  template <class F>
  TimerHandle call_later(double seconds, F&& fn) {
    return call_later(std::chrono::duration<double>(seconds), std::forward<F>(fn));
  }

  template <class T>
  Task<T> create_task(Coro<T> coro, TaskOptions options = {}) {
    check_open();
    auto h = coro.release();
    if (!h) throw RuntimeError("create_task() needs a coroutine that was not awaited");
    return Task<T>(detail::spawn_task(h, h.promise(), *this, std::move(options)));
  }
  template <class T = void>
  Future<T> create_future() {
    check_open();
    return Future<T>(this);
  }

  // loop.run_in_executor(executor, fn, args...): null executor = the default one. Defined in
  // scheduler/to_thread.hpp.
  template <class F, class... Args>
  auto run_in_executor(Executor* executor, F&& fn, Args&&... args);

  void set_exception_handler(ExceptionHandler handler);
  void call_exception_handler(const ExceptionContext& context) noexcept override;
  void default_exception_handler(const ExceptionContext& context) noexcept;

  [[nodiscard]] bool get_debug() const noexcept { return debug_; }
  void set_debug(bool on) noexcept { debug_ = on; }
  [[nodiscard]] bool is_closed() const noexcept override {
    return closed_.load(detail::memory_order_acquire);
  }
  [[nodiscard]] bool is_running() const noexcept {
    return running_.load(detail::memory_order_acquire);
  }
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  [[nodiscard]] Runtime& runtime() const noexcept { return rt_; }
  [[nodiscard]] WorkerMetrics metrics() const noexcept { return counters_.snapshot(); }

  // ---- LoopBase (core's interface) ----
  void schedule(detail::TaskBase* task) noexcept override;
  void spawn(detail::TaskBase* task) noexcept override;
  void yield(detail::TaskBase* task) noexcept override;
  void post(detail::HandleNode* node) override;
  void post_threadsafe(detail::HandleNode* node) override;
  void add_timer(detail::TimerNode* node) override;
  void remove_timer(detail::TimerNode* node) noexcept override;
  [[nodiscard]] bool on_loop_thread() const noexcept override;
  [[nodiscard]] bool debug() const noexcept override { return debug_; }
  void register_task(detail::TaskBase* task) noexcept override;

  // ---- runtime internals ----
  // Runs this loop on the calling thread until `stop` becomes true.
  void run_until(const detail::atomic<bool>& stop);
  // Wakes the loop if it is parked (any thread; a syscall only when it really is parked).
  void wake() noexcept;
  [[nodiscard]] Ring& ring() noexcept { return ring_; }
  detail::TaskRegistry& registry() noexcept { return registry_; }
  void close() noexcept;
  // Marks this thread as running this loop (thread-locals), for run_until and Runner.
  void enter() noexcept;
  void leave() noexcept;

 private:
  friend class Runtime;
  void check_open() const;
  void add_timer_any_thread(detail::TimerNode* node);
  void push_inbox(detail::Runnable* r) noexcept;
  // Own thread: queue a runnable that is ready now.
  void push_local_ready(detail::Runnable* r, bool lifo);
  void push_ring(detail::Runnable* r);
  detail::Runnable* next_runnable();
  detail::Runnable* take_from_inject();
  detail::Runnable* steal();
  void run_one(detail::Runnable* r) noexcept;
  // Inbox, reactor poll (with timeout; zero = just look), expired timers, deferred yields.
  void maintenance(std::chrono::nanoseconds timeout);
  void drain_inbox();
  void fire_timers();
  // Blocks in the reactor until work, a wake-up or the next timer; returns at once if `stop`
  // is already set (checked after parked_ is published, so a stop is never slept through).
  void park(const detail::atomic<bool>& stop);
  std::chrono::nanoseconds next_timer_timeout() const noexcept;
  void report_slow(const std::string& what, Clock::duration took) noexcept;

  Runtime& rt_;
  const std::size_t index_;
  const bool single_;
  bool debug_;
  Clock::duration slow_callback_duration_ = std::chrono::milliseconds(100);

  // Own thread only.
  detail::RunnableFifo local_;
  detail::RunnableFifo deferred_;  // sleep(0)ed stealable tasks, released after the next poll
  detail::Runnable* lifo_slot_ = nullptr;
  std::uint32_t lifo_runs_ = 0;
  std::uint32_t tick_ = 0;
  std::uint32_t poll_epoch_ = 0;
  std::uint64_t rng_;
  bool searching_ = false;
  // Set by Runtime::notify_work when it wakes this loop to search (it counted us already).
  detail::atomic<bool> searching_wake_{false};
  io::TimerHeap timers_;
  io::Reactor reactor_;

  Ring ring_;
  detail::Inbox inbox_;
  // true while the worker is blocked (or about to block) in reactor_.wait. seq_cst: the other
  // half of the Dekker pair with Inbox::push (see inbox.hpp).
  alignas(detail::kCacheLine) detail::atomic<bool> parked_{false};
  // Threads between pushing into inbox_ and finishing wake(): close() waits for them, so a
  // foreign thread completing a future never touches a loop that is being destroyed. On its
  // own cache line: only foreign producers write it.
  alignas(detail::kCacheLine) detail::atomic<std::uint32_t> wakers_{0};
  alignas(detail::kCacheLine) char pad_after_wakers_ = 0;
  detail::atomic<bool> closed_{false};
  // Timers cancelled from other threads since the last sweep (relaxed: a purge trigger only).
  detail::atomic<std::uint32_t> foreign_cancels_{0};
  detail::atomic<bool> running_{false};
  detail::TaskRegistry registry_;
  std::mutex handler_mu_;
  ExceptionHandler handler_;  // guarded by handler_mu_
  detail::WorkerCounters counters_;
};

// The loop running on this thread; RuntimeError("no running event loop") otherwise.
EventLoop& get_running_loop();

}  // namespace weft
