// Task<T> (asyncio.Task) and create_task / current_task.
//
// A Task<T> is a reference-counted handle: copy it freely, await it from any number of tasks on
// any workers, query it from any thread. The task runs whether or not a handle is kept (unlike
// asyncio, dropping every handle does not let the task be collected mid-flight).
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <weft/core/coro.hpp>
#include <weft/core/detail/await.hpp>
#include <weft/core/detail/done_callback.hpp>
#include <weft/core/errors.hpp>
#include <weft/core/task_base.hpp>

namespace weft {

class EventLoop;  // scheduler/event_loop.hpp

namespace detail {
// Defined by the scheduler: the EventLoop behind core's LoopBase.
EventLoop& to_event_loop(LoopBase* loop) noexcept;
}  // namespace detail

struct TaskOptions {
  std::string name;     // default "Task-<n>"
  bool pinned = false;  // never leaves the loop it was created on (asyncio's one-thread world)
};

template <class T = void>
class Task {
 public:
  using value_type = T;

  Task() noexcept = default;
  // Adopts one reference.
  explicit Task(detail::TaskBase* adopt) noexcept : t_(adopt) {}
  Task(const Task& o) noexcept : t_(o.t_) {
    if (t_) t_->add_ref();
  }
  Task(Task&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  Task& operator=(Task o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~Task() {
    if (t_) t_->release();
  }

  [[nodiscard]] bool valid() const noexcept { return t_ != nullptr; }
  [[nodiscard]] bool done() const noexcept { return t_->done(); }
  [[nodiscard]] bool cancelled() const noexcept { return t_->cancelled(); }
  // Requests cancellation: CancelledError(msg) is raised at the task's current await on its
  // next resumption. False if the task is already done.
  bool cancel(std::string msg = {}) noexcept { return t_->cancel(std::move(msg)); }
  [[nodiscard]] int cancelling() const noexcept { return t_->cancelling(); }
  int uncancel() noexcept { return t_->uncancel(); }
  [[nodiscard]] std::string get_name() const { return t_->get_name(); }
  void set_name(std::string name) { t_->set_name(std::move(name)); }
  [[nodiscard]] EventLoop& get_loop() const noexcept { return detail::to_event_loop(t_->loop()); }

  // The result; rethrows the task's exception; CancelledError if cancelled; InvalidStateError
  // while pending.
  T result() const {
    t_->check_result();
    if constexpr (!std::is_void_v<T>) return promise().value();
  }
  // Null for a result; CancelledError if cancelled; InvalidStateError while pending.
  [[nodiscard]] std::exception_ptr exception() const { return t_->exception(); }

  // fn(Task<T>) runs through call_soon on the task's loop once it is done (at once, if it
  // already is). Returns an id for remove_done_callback.
  template <class F>
    requires std::is_invocable_v<F&, Task<T>>
  std::uint64_t add_done_callback(F fn) {
    return detail::add_done_callback(t_, [fn = std::move(fn)](detail::FutureBase* f) mutable {
      f->add_ref();
      fn(Task<T>(static_cast<detail::TaskBase*>(f)));
    });
  }
  // asyncio returns how many registrations were removed; ids are unique, so 0 or 1.
  std::size_t remove_done_callback(std::uint64_t id) noexcept { return t_->remove_done_callback(id); }

  struct Awaiter : detail::FutureAwaiter {
    Awaiter(detail::TaskBase* t, bool owned) noexcept : FutureAwaiter(t, owned) {}
    T await_resume() {
      resume_checks();
      if constexpr (!std::is_void_v<T>) {
        auto* t = static_cast<detail::TaskBase*>(awaited());
        if constexpr (std::is_copy_constructible_v<T>) {
          return promise_of(t).value();
        } else {
          return std::move(promise_of(t).value());  // a move-only result is taken once
        }
      }
    }
  };
  Awaiter operator co_await() const& noexcept { return Awaiter(t_, false); }
  Awaiter operator co_await() && noexcept { return Awaiter(std::exchange(t_, nullptr), true); }

  [[nodiscard]] detail::TaskBase* base() const noexcept { return t_; }
  friend bool operator==(const Task& a, const Task& b) noexcept { return a.t_ == b.t_; }

 private:
  static detail::CoroPromise<T>& promise_of(detail::TaskBase* t) noexcept {
    return std::coroutine_handle<detail::CoroPromise<T>>::from_address(t->root().address())
        .promise();
  }
  detail::CoroPromise<T>& promise() const noexcept { return promise_of(t_); }
  detail::TaskBase* t_ = nullptr;
};

namespace detail {
// Builds the task header in front of `h`'s frame, registers and schedules it on `loop`.
TaskBase* spawn_task(std::coroutine_handle<> h, PromiseBase& promise, LoopBase& loop,
                     TaskOptions&& options);
}  // namespace detail

// asyncio.create_task: wraps the coroutine in a Task scheduled on the running loop. Raises
// RuntimeError("no running event loop") outside one.
template <class T>
Task<T> create_task(Coro<T> coro, TaskOptions options = {}) {
  detail::LoopBase& loop = detail::running_loop();
  if (!coro.valid()) throw RuntimeError("create_task() needs a coroutine that was not awaited");
  auto h = coro.release();
  return Task<T>(detail::spawn_task(h, h.promise(), loop, std::move(options)));
}

// The task running on this thread; an invalid Task outside a task.
Task<> current_task() noexcept;

}  // namespace weft
