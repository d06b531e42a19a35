// The untyped half of Future<T> and Task<T>: completion state, waiters, done callbacks, refcount.
//
// Threads: any thread may complete, cancel, query or await a future. The state word decides who
// completes it; `lock_` guards the waiter list and the fields written before completion:
//
//   state_   kPending --set_result/set_exception/cancel (under lock_)--> kResult | kException
//                                                                       | kCancelled
//   Once state_ leaves kPending (release, under lock_) the value, exception and cancel message
//   are immutable; readers that observe a final state with acquire may read them without lock_.
//
// Waiters (tasks awaiting it, done callbacks) are notified after lock_ is dropped, in the order
// they were added. A waiter node may be freed by the time notify returns (the woken task may
// already run on another worker), so notification reads `next_` first.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include <weft/core/detail/atomic.hpp>
#include <weft/core/errors.hpp>
#include <weft/core/loop_base.hpp>

namespace weft::detail {

class FutureBase;

struct WaiterNode {
  using NotifyFn = void (*)(WaiterNode*, FutureBase*) noexcept;
  explicit WaiterNode(NotifyFn fn) noexcept : notify(fn) {}
  WaiterNode* next = nullptr;
  NotifyFn notify;
  std::uint64_t id = 0;  // non-zero for done callbacks (remove_done_callback finds them by it)
  // Frees a node the future owns (done callbacks) when it is removed without being notified.
  void (*dispose)(WaiterNode*) noexcept = nullptr;
};

class FutureBase {
 public:
  enum State : std::uint8_t { kPending, kResult, kException, kCancelled };

  explicit FutureBase(LoopBase* loop, std::uint32_t refs) noexcept : refs_(refs), loop_(loop) {}
  FutureBase(const FutureBase&) = delete;
  FutureBase& operator=(const FutureBase&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last owner sees all writes of the others before tearing down.
    if (refs_.fetch_sub(1, memory_order_acq_rel) == 1) destroy();
  }

  [[nodiscard]] State state() const noexcept { return state_.load(memory_order_acquire); }
  [[nodiscard]] bool done() const noexcept { return state() != kPending; }
  [[nodiscard]] bool cancelled() const noexcept { return state() == kCancelled; }
  [[nodiscard]] LoopBase* loop() const noexcept { return loop_.load(memory_order_relaxed); }

  // Registers a waiter. Returns false (and registers nothing) if already done.
  [[nodiscard]] bool add_waiter(WaiterNode* w) noexcept;
  // Unregisters a waiter still pending. Returns whether it was found.
  bool remove_waiter(WaiterNode* w) noexcept;

  // asyncio Future.cancel(msg): false if already done.
  bool cancel_future(std::string msg) noexcept;
  // What cancelling an awaiter of this does to it: a Future is cancelled, a Task is asked to
  // cancel (Task.cancel), exactly as asyncio's Task.cancel treats its _fut_waiter.
  virtual bool cancel_from_waiter(const std::string& msg) noexcept { return cancel_future(msg); }
  // Throws the stored exception / CancelledError / InvalidStateError (pending); marks the
  // exception as retrieved. Returns normally for a result.
  void check_result() const;
  // asyncio Future.exception(): null for a result.
  [[nodiscard]] std::exception_ptr exception() const;
  void mark_retrieved() const noexcept { retrieved_.store(true, memory_order_relaxed); }

  // Done callbacks: run through call_soon on this future's loop, never inline.
  // Adds `node` (its notify posts the callback); if already done, notifies it at once.
  void add_done_callback_node(WaiterNode* node) noexcept;
  std::size_t remove_done_callback(std::uint64_t id) noexcept;

  // The message of the cancel() that finished it (empty if none). Only once cancelled.
  [[nodiscard]] std::string cancel_message() const { return cancel_msg_ ? *cancel_msg_ : std::string(); }

 protected:
  virtual ~FutureBase();
  virtual void destroy() noexcept = 0;
  // A human name for reports ("Task-3", "Future").
  [[nodiscard]] virtual std::string describe() const = 0;

  // Completion: lock, check pending, let `write` fill the value and name the final state,
  // publish, notify.
  template <class Write>
  bool complete(Write&& write) {
    lock_.lock();
    if (state_.load(memory_order_relaxed) != kPending) {
      lock_.unlock();
      return false;
    }
    State final_state;
    try {
      final_state = write();
    } catch (...) {
      lock_.unlock();
      throw;
    }
    // release: pairs with the acquire in state(); the value written above is visible to any
    // reader that sees the final state.
    state_.store(final_state, memory_order_release);
    WaiterNode* list = waiters_;
    waiters_ = waiters_tail_ = nullptr;
    lock_.unlock();
    notify_all(list);
    return true;
  }
  void notify_all(WaiterNode* list) noexcept;
  // Reports an exception nobody retrieved, as asyncio's Future.__del__ does.
  void report_unretrieved() noexcept;

  atomic<std::uint32_t> refs_;
  atomic<State> state_{kPending};
  mutable atomic<bool> retrieved_{false};
  mutable SpinLock lock_;
  WaiterNode* waiters_ = nullptr;       // FIFO, guarded by lock_
  WaiterNode* waiters_tail_ = nullptr;  // guarded by lock_
  std::exception_ptr exc_;              // written before completion
  std::unique_ptr<std::string> cancel_msg_;  // written before completion; null: no message
  // The loop whose call_soon runs done callbacks and whose handler gets unretrieved
  // exceptions. For a task it follows the task as it migrates (relaxed: a hint for routing).
  atomic<LoopBase*> loop_;
};

}  // namespace weft::detail
