// The untyped task header: a FutureBase that runs a coroutine, plus asyncio's cancellation
// bookkeeping. It lives in the same allocation as the task's root coroutine frame, just before it
// (see Coro's promise operator new), so spawning a task is one allocation.
//
// References: one per Task<T> handle, plus one "alive" reference from create_task until the root
// coroutine finishes. The frame (and this header) are freed with the last reference.
//
// Suspension protocol, every awaiter in weft follows it (the invariant that makes cancel() safe
// from any thread):
//   await_suspend:  task->resume_ = h; lock_; fut_waiter_ = this; register with the awaited
//                   thing (a failed registration = already done: clear and don't suspend);
//                   if must_cancel_: cancel our own wait; unlock_.
//   a canceller:    lock_; fut_waiter_->cancel_wait(msg) or, with no wait, must_cancel_ = true;
//                   unlock_.
//   await_resume:   end_wait(): lock_; fut_waiter_ = null; unlock_; then throw CancelledError if
//                   a cancellation arrived with no wait to withdraw.
// So fut_waiter_ is only dereferenced under lock_, while its awaiter is certainly alive.
// Lock order: a task's lock_ before the lock_ of whatever it awaits (never the reverse).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <weft/core/detail/runnable.hpp>
#include <weft/core/future_base.hpp>

namespace weft::detail {

class TaskRegistry;

// The thing a task is currently suspended on, as seen by Task::cancel.
class Cancellable {
 public:
  // Withdraws the wait so that the task wakes with CancelledError (asyncio cancels the awaited
  // future). Returns false if the wait can no longer be withdrawn (it already completed).
  // Called with the task's lock_ held.
  virtual bool cancel_wait(const std::string& msg) noexcept = 0;

 protected:
  ~Cancellable() = default;
};

class TaskBase : public FutureBase, public Runnable {
 public:
  TaskBase(std::coroutine_handle<> root, LoopBase* loop, std::string name, bool pinned) noexcept;

  // ---- asyncio Task API (any thread) ----
  bool cancel(std::string msg = {}) noexcept;
  bool cancel_from_waiter(const std::string& msg) noexcept override { return cancel(msg); }
  [[nodiscard]] int cancelling() const noexcept {
    return num_cancels_requested_.load(memory_order_relaxed);
  }
  int uncancel() noexcept;
  [[nodiscard]] std::string get_name() const;
  void set_name(std::string name);

  // ---- awaiter side (the task's own thread) ----
  std::coroutine_handle<> resume_;  // where the next step continues
  void lock() noexcept { lock_.lock(); }
  void unlock() noexcept { lock_.unlock(); }
  // With lock_ held: record the wait; if a cancellation is pending, withdraw it right away.
  void begin_wait_locked(Cancellable* w) noexcept;
  // Ends the wait; throws CancelledError if a cancellation is owed and nothing else delivered it.
  void end_wait();
  // For waits with no Cancellable (yield): deliver a pending cancellation.
  void check_must_cancel();

  // ---- the root coroutine finished (its final_suspend): publish, notify, drop "alive" ----
  void finish(std::exception_ptr error) noexcept;

  // ---- scheduler side ----
  void set_loop(LoopBase* l) noexcept { loop_.store(l, memory_order_relaxed); }
  // The root coroutine's frame starts right after this header (same allocation).
  [[nodiscard]] std::coroutine_handle<> root() const noexcept;
  std::uint32_t yield_epoch_ = 0;  // the poll epoch a sleep(0) waits past (owning loop only)
  // all_tasks() bookkeeping, guarded by the registry's lock.
  TaskRegistry* registry_ = nullptr;
  TaskBase* reg_prev_ = nullptr;
  TaskBase* reg_next_ = nullptr;

  static std::uint64_t next_task_number() noexcept;

 protected:
  void destroy() noexcept override;
  [[nodiscard]] std::string describe() const override;

 private:
  static void run_thunk(Runnable* r) noexcept;

  std::string take_pending_msg_locked();

  // Small fields first: they share the tail padding of Runnable. The header is kept small
  // because a million live tasks means a million of them (see docs/performance.md).
  bool started_ = false;              // the first step has run (the task's own thread)
  bool must_cancel_locked_ = false;   // guarded by lock_
  // Mirrors must_cancel_locked_ so the yield path can skip the lock (relaxed: a hint re-checked
  // under lock_).
  atomic<bool> must_cancel_hint_{false};
  atomic<int> num_cancels_requested_{0};
  Cancellable* fut_waiter_ = nullptr;  // guarded by lock_
  std::uint64_t number_;               // for the default name "Task-<number>"
  // Rare, so out of line: the message of a cancel() not yet delivered, a custom name.
  std::unique_ptr<std::string> pending_cancel_msg_;  // guarded by lock_
  std::unique_ptr<std::string> name_;                // guarded by lock_ after creation
};

inline constexpr std::size_t kFrameAlign = alignof(std::max_align_t);
// Bytes in front of every coroutine frame, reserved for a TaskBase (see Coro's promise).
inline constexpr std::size_t kFramePrefix =
    (sizeof(TaskBase) + kFrameAlign - 1) / kFrameAlign * kFrameAlign;

inline std::coroutine_handle<> TaskBase::root() const noexcept {
  return std::coroutine_handle<>::from_address(
      const_cast<char*>(reinterpret_cast<const char*>(this)) + kFramePrefix);
}

// The task running on this thread, or null.
inline TaskBase* current_task_base() noexcept { return tls_current_task; }
// The current task, or RuntimeError naming `what` (e.g. "sleep() called outside of a task").
TaskBase& require_current_task(const char* what);

// Per-loop list of live tasks for all_tasks() and shutdown.
class TaskRegistry {
 public:
  void add(TaskBase* t) noexcept;
  void remove(TaskBase* t) noexcept;
  // Calls fn(TaskBase*) for each live task, with the lock held: fn must not block or re-enter.
  template <class Fn>
  void for_each(Fn&& fn) {
    lock_.lock();
    for (TaskBase* t = head_; t; t = t->reg_next_) fn(t);
    lock_.unlock();
  }

 private:
  SpinLock lock_;
  TaskBase* head_ = nullptr;
};

}  // namespace weft::detail
