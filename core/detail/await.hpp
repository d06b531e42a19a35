// The awaiter shared by Task<T> and Future<T>: suspends the current task until a FutureBase is
// done, following the suspension protocol in task_base.hpp.
#pragma once

#include <coroutine>
#include <string>

#include <weft/core/errors.hpp>
#include <weft/core/future_base.hpp>
#include <weft/core/task_base.hpp>

namespace weft::detail {

// A waiter that wakes one task.
struct TaskWakeNode : WaiterNode {
  TaskWakeNode() noexcept : WaiterNode(&TaskWakeNode::wake) {}
  TaskBase* task = nullptr;

 private:
  static void wake(WaiterNode* n, FutureBase*) noexcept {
    TaskBase* t = static_cast<TaskWakeNode*>(n)->task;  // read before waking: the node dies
    t->loop()->schedule(t);                                // once the task runs
  }
};

// Awaiting an lvalue Task/Future borrows its reference; awaiting an rvalue (a temporary such as
// `co_await create_task(f())` or `co_await to_thread(g)`) moves the reference into the awaiter,
// so the awaited object's lifetime never depends on how a compiler scopes co_await temporaries
// (g++ 12 has bugs there).
class FutureAwaiter : public Cancellable {
 public:
  FutureAwaiter(FutureBase* f, bool owned) noexcept : fut_(f), owned_(owned) {}
  FutureAwaiter(const FutureAwaiter&) = delete;
  FutureAwaiter& operator=(const FutureAwaiter&) = delete;
  ~FutureAwaiter() {
    if (owned_) fut_->release();
  }

  bool await_ready() const noexcept { return fut_->done(); }

  bool await_suspend(std::coroutine_handle<> h) noexcept {
    TaskBase* t = tls_current_task;
    if (t == nullptr || static_cast<FutureBase*>(t) == fut_) {
      misuse_ = t == nullptr ? kOutsideTask : kAwaitSelf;
      return false;
    }
    task_ = t;
    node_.task = t;
    t->resume_ = h;
    t->lock();
    if (!fut_->add_waiter(&node_)) {  // finished meanwhile: carry on without suspending
      t->unlock();
      task_ = nullptr;
      return false;
    }
    t->begin_wait_locked(this);
    t->unlock();  // from here on the task may already be running elsewhere
    return true;
  }

  bool cancel_wait(const std::string& msg) noexcept override {
    return fut_->cancel_from_waiter(msg);
  }

 protected:
  [[nodiscard]] FutureBase* awaited() const noexcept { return fut_; }
  // Everything await_resume must do before reading the value.
  void resume_checks() {
    if (misuse_ == kOutsideTask) throw RuntimeError("await outside of a running task");
    if (misuse_ == kAwaitSelf) throw RuntimeError("Task cannot await on itself");
    if (task_) task_->end_wait();
    fut_->check_result();
  }

 private:
  enum Misuse : unsigned char { kNone, kOutsideTask, kAwaitSelf };
  FutureBase* fut_;
  TaskBase* task_ = nullptr;
  TaskWakeNode node_;
  bool owned_;
  Misuse misuse_ = kNone;
};

}  // namespace weft::detail
