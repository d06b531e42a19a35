// Callbacks queued on a loop (call_soon, call_later, call_at, done callbacks) and the Handle /
// TimerHandle users get back to cancel them.
//
// A HandleNode is reference counted: one reference for the queue or timer heap that holds it,
// one for each user Handle. Its state word decides between running and cancelling:
//   kPending --cancel()--> kCancelled        (any thread; the node is then skipped or dropped)
//   kPending --run-------> kDone             (owning loop only)
// A timer node additionally lives in its loop's heap at `heap_index_` (owning loop only).
#pragma once

#include <cstdint>
#include <exception>
#include <new>
#include <utility>

#include <weft/core/detail/atomic.hpp>
#include <weft/core/detail/frame_allocator.hpp>
#include <weft/core/detail/runnable.hpp>
#include <weft/core/loop_base.hpp>

namespace weft {
namespace detail {

class HandleNode : public Runnable, public PooledAlloc {
 public:
  enum State : std::uint8_t { kPending, kCancelled, kDone };

  using InvokeFn = void (*)(HandleNode*);
  using DestroyFn = void (*)(HandleNode*) noexcept;

  HandleNode(LoopBase* loop, InvokeFn invoke, DestroyFn destroy, std::uint32_t refs) noexcept
      : Runnable(Kind::kCallback, &HandleNode::run_thunk),
        refs_(refs),
        loop_(loop),
        invoke_(invoke),
        destroy_(destroy) {
    pinned_ = true;  // a callback runs on the loop it was given to
  }

  void add_ref() noexcept { refs_.fetch_add(1, memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last release must see every other holder's writes before destroying.
    if (refs_.fetch_sub(1, memory_order_acq_rel) == 1) destroy_(this);
  }
  // Cancels if not yet run. Any thread. Returns whether this call cancelled it.
  bool cancel() noexcept {
    std::uint8_t expected = kPending;
    // acq_rel: pairs with the CAS in claim(); exactly one of run and cancel wins.
    return state_.compare_exchange_strong(expected, kCancelled, memory_order_acq_rel);
  }
  [[nodiscard]] bool cancelled() const noexcept {
    return state_.load(memory_order_acquire) == kCancelled;
  }
  // Claims the right to run (owning loop). False if it was cancelled first.
  [[nodiscard]] bool claim() noexcept {
    std::uint8_t expected = kPending;
    return state_.compare_exchange_strong(expected, kDone, memory_order_acq_rel);
  }
  [[nodiscard]] LoopBase* loop() const noexcept { return loop_; }

  // Runs the callback now (the owning loop, or a timer firing). Exceptions go to the loop's
  // exception handler, as asyncio's Handle._run does.
  void invoke_now() noexcept;

 private:
  static void run_thunk(Runnable* r) noexcept;

  atomic<std::uint32_t> refs_;
  atomic<std::uint8_t> state_{kPending};
  LoopBase* loop_;
  InvokeFn invoke_;
  DestroyFn destroy_;
};

class TimerNode : public HandleNode {
 public:
  using HandleNode::HandleNode;
  Clock::time_point when_{};
  std::uint32_t heap_index_ = kNotInHeap;  // owning loop only
  // A wake-up timer (sleep) fires by calling invoke directly from the timer poll; a callback
  // timer (call_later) is queued behind the ready callbacks, as asyncio does.
  bool direct_ = false;
  static constexpr std::uint32_t kNotInHeap = 0xffffffffu;
};

template <class Base, class F>
class CallbackNode final : public Base {
 public:
  CallbackNode(LoopBase* loop, std::uint32_t refs, F&& fn)
      : Base(loop, &CallbackNode::invoke, &CallbackNode::destroy, refs), fn_(std::move(fn)) {}

 private:
  static void invoke(HandleNode* self) { static_cast<CallbackNode*>(self)->fn_(); }
  static void destroy(HandleNode* self) noexcept { delete static_cast<CallbackNode*>(self); }
  F fn_;
};

template <class Base = HandleNode, class F>
Base* make_callback(LoopBase* loop, std::uint32_t refs, F&& fn) {
  return new CallbackNode<Base, std::decay_t<F>>(loop, refs, std::decay_t<F>(std::forward<F>(fn)));
}

}  // namespace detail

// asyncio.Handle: a callback queued by call_soon / call_soon_threadsafe. Cheap to copy.
class Handle {
 public:
  Handle() = default;
  explicit Handle(detail::HandleNode* adopt) noexcept : node_(adopt) {}
  Handle(const Handle& o) noexcept : node_(o.node_) {
    if (node_) node_->add_ref();
  }
  Handle(Handle&& o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
  Handle& operator=(Handle o) noexcept {
    std::swap(node_, o.node_);
    return *this;
  }
  ~Handle() {
    if (node_) node_->release();
  }
  // Prevents the callback from running if it has not run yet. Any thread.
  void cancel() noexcept {
    if (node_) node_->cancel();
  }
  [[nodiscard]] bool cancelled() const noexcept { return node_ && node_->cancelled(); }

 protected:
  detail::HandleNode* node_ = nullptr;
};

// asyncio.TimerHandle: from call_later / call_at.
class TimerHandle : public Handle {
 public:
  TimerHandle() = default;
  explicit TimerHandle(detail::TimerNode* adopt) noexcept : Handle(adopt) {}
  // The absolute deadline on the loop's clock.
  [[nodiscard]] Clock::time_point when() const noexcept {
    return static_cast<detail::TimerNode*>(node_)->when_;
  }
  void cancel() noexcept;
};

}  // namespace weft
