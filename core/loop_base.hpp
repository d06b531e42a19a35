// core's whole view of an event loop: what tasks, futures and timers need from the scheduler.
//
// core has no threads. It reaches the loop that owns a task only through this interface, which
// scheduler/EventLoop implements; io/ timers are handed over as TimerNodes. Which threads may call
// what is stated per function.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>

namespace weft {

using Clock = std::chrono::steady_clock;

// What call_exception_handler receives (asyncio's context dict, as a struct).
struct ExceptionContext {
  std::string message;
  std::exception_ptr exception;  // may be null
  std::string task_name;         // empty when no task is involved
};

namespace detail {

class TaskBase;
class HandleNode;
class TimerNode;

class LoopBase {
 public:
  LoopBase() = default;
  LoopBase(const LoopBase&) = delete;
  LoopBase& operator=(const LoopBase&) = delete;
  virtual ~LoopBase() = default;

  // Makes a suspended task runnable. Any thread: on a worker of the same runtime the task joins
  // that worker's run queue (it migrates); from anywhere else it enters this loop through the
  // call_soon_threadsafe inbox. A pinned task always comes back to its own loop.
  virtual void schedule(TaskBase* task) noexcept = 0;
  // A task's first step, from create_task on this loop's own thread.
  virtual void spawn(TaskBase* task) noexcept = 0;
  // sleep(0): the task runs again after this loop's next I/O and timer poll. Own thread only.
  virtual void yield(TaskBase* task) noexcept = 0;
  // Queues a callback on this loop. post() is for this loop's own thread, post_threadsafe() for
  // any thread (at most one syscall, to wake the loop if it is parked).
  virtual void post(HandleNode* node) = 0;
  virtual void post_threadsafe(HandleNode* node) = 0;
  // Timers. add_timer: own thread only. A timer is cancelled through its node (any thread),
  // then remove_timer (any thread): on the loop's own thread the node leaves the heap at once;
  // from elsewhere it is counted, dropped lazily when it reaches the top, and the heap is purged
  // once such cancellations reach half its size (asyncio's rule for cancelled TimerHandles).
  virtual void add_timer(TimerNode* node) = 0;
  virtual void remove_timer(TimerNode* node) noexcept = 0;
  [[nodiscard]] virtual Clock::time_point now() const noexcept = 0;
  // True when the calling thread is the one running this loop.
  [[nodiscard]] virtual bool on_loop_thread() const noexcept = 0;
  virtual void call_exception_handler(const ExceptionContext& context) noexcept = 0;
  [[nodiscard]] virtual bool is_closed() const noexcept = 0;
  [[nodiscard]] virtual bool debug() const noexcept = 0;
  // Bookkeeping for all_tasks(): called by create_task and by a finishing task.
  virtual void register_task(TaskBase* task) noexcept = 0;
};

// The loop and task running on this thread (null outside a worker / outside a task).
extern thread_local LoopBase* tls_running_loop;
extern thread_local TaskBase* tls_current_task;

// The running loop, or RuntimeError("no running event loop").
LoopBase& running_loop();

// Loops alive right now. A Task or Future handle may outlive its runtime; what it reports when
// released (an exception never retrieved) must then not reach a destroyed loop. Loops register
// on construction and leave on destruction; with_live_loop calls fn(loop) under the registry's
// lock if `loop` is still alive (so it cannot be destroyed meanwhile) and returns whether it
// was. Rare paths only: it takes a mutex.
void register_live_loop(LoopBase* loop);
void unregister_live_loop(LoopBase* loop) noexcept;
bool with_live_loop(LoopBase* loop, void (*fn)(LoopBase*, void*), void* arg) noexcept;

}  // namespace detail
}  // namespace weft
