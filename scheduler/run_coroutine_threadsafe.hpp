// run_coroutine_threadsafe(coro, loop) and ConcurrentFuture<T>: asyncio.run_coroutine_threadsafe
// and the concurrent.futures.Future it returns. The bridge for code outside the runtime (a plain
// std::thread, a callback from a C library) that wants a coroutine run on a loop and its result.
//
// Threads: run_coroutine_threadsafe from any thread. It hands the coroutine to `loop` through
// call_soon_threadsafe; the callback creates the task there (loop.create_task) and a done
// callback on the task copies its outcome into the ConcurrentFuture. A ConcurrentFuture may be
// used from any thread; result() / exception() / wait() block the calling thread (mutex and
// condition variable), so call them from plain threads, never from the target loop's own thread
// (that would deadlock: RuntimeError instead). From a task, await the coroutine instead.
//
// States (under mu_), as concurrent.futures: kPending -> kResult | kException | kCancelled, once.
//   cancel() completes it as cancelled at once and asks the loop to cancel the task (through
//   call_soon_threadsafe); the task's own outcome then finds it done and is dropped.
//   Runtime shutdown cancels the task like every other. If the loop shuts down before the
//   coroutine could start, or before the done callback could run, the callbacks are dropped (or
//   run during the final drain) and complete the future: with the task's outcome when the task
//   is done, else as cancelled (as executor shutdown cancels pending work). So a blocked result()
//   does not hang across a runtime shutdown.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/core/coro.hpp>
#include <weft/core/detail/atomic.hpp>
#include <weft/core/detail/unique_function.hpp>
#include <weft/core/errors.hpp>
#include <weft/core/task.hpp>
#include <weft/scheduler/event_loop.hpp>
#include <weft/scheduler/runtime.hpp>

namespace weft {

template <class T>
class ConcurrentFuture;

namespace detail {

// The untyped half: state word, exception, blocking waits, done callbacks.
class ConcurrentStateBase {
 public:
  enum State : unsigned char { kPending, kResult, kException, kCancelled };

  explicit ConcurrentStateBase(EventLoop* loop) noexcept : loop_(loop) {}
  ConcurrentStateBase(const ConcurrentStateBase&) = delete;
  ConcurrentStateBase& operator=(const ConcurrentStateBase&) = delete;

  [[nodiscard]] State state() const;
  // Blocks until done or until `deadline` (nullopt: no limit); returns whether it is done.
  // RuntimeError when it would block the target loop's own thread.
  bool wait_until(std::optional<std::chrono::steady_clock::time_point> deadline);
  // Blocks like wait_until, then throws TimeoutError if still pending, CancelledError if
  // cancelled, the coroutine's exception if it raised one; returns normally for a result.
  // With `rethrow` false, an exception is not thrown (exception() reads it instead).
  void wait_and_check(std::optional<std::chrono::steady_clock::time_point> deadline, bool rethrow);
  [[nodiscard]] std::exception_ptr stored_exception() const;

  // Completes as cancelled; false if already done. Runs the done callbacks on this thread.
  bool cancel_state();
  // Completes with an exception; false if already done.
  bool set_exception(std::exception_ptr e);
  // Adds fn, or runs it now (on this thread) if already done.
  void add_done_callback(UniqueFunction fn);

  [[nodiscard]] EventLoop& loop() const noexcept { return *loop_; }

 protected:
  ~ConcurrentStateBase() = default;
  // With `lock` held and the state pending: publish `s`, wake the waiters, unlock, then run the
  // done callbacks on this thread (concurrent.futures runs them in the completing thread).
  void complete_locked(std::unique_lock<std::mutex>& lock, State s);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = kPending;                 // guarded by mu_
  std::exception_ptr exc_;                 // guarded by mu_; immutable once done
  std::vector<UniqueFunction> callbacks_;  // guarded by mu_; cleared on completion
  EventLoop* loop_;
};

template <class T>
class ConcurrentState final : public ConcurrentStateBase {
 public:
  using ConcurrentStateBase::ConcurrentStateBase;
  using Storage = std::conditional_t<std::is_void_v<T>, bool, T>;

  // The loop's side. start(): the creating callback (on the loop's thread).
  void start(std::shared_ptr<ConcurrentState> self, Coro<T> coro) {
    std::unique_lock lock(mu_);
    if (state_ != kPending) return;  // cancelled before it started: the coroutine never runs
    if (loop_->runtime().stopping().load(memory_order_acquire)) {
      // Runtime::close() runs what is left in the loop's queues after its last round of
      // cancelling tasks: a task created now would never run. Cancel it instead, as shutdown
      // cancels every task it finds.
      complete_locked(lock, kCancelled);
      return;
    }
    Task<T> task;
    try {
      task = loop_->create_task(std::move(coro));
    } catch (...) {
      exc_ = std::current_exception();
      complete_locked(lock, kException);
      return;
    }
    task_ = task;
    lock.unlock();
    task.add_done_callback([g = Guard(std::move(self))](Task<T> t) mutable {
      std::shared_ptr<ConcurrentState> s = std::move(g.state);
      s->finish_from(t);
    });
  }

  // Copies a done task's outcome (on the loop's thread, or at loop close); drops the task handle.
  void finish_from(const Task<T>& t) {
    std::unique_lock lock(mu_);
    Task<T> keep = std::move(task_);  // released after mu_, outside any callback
    if (state_ != kPending) {
      // cancel() won; mark the task's exception as seen so it is not reported as unretrieved.
      if (!t.cancelled()) (void)t.exception();
      lock.unlock();
      return;
    }
    if (t.cancelled()) {
      complete_locked(lock, kCancelled);
      return;
    }
    if (std::exception_ptr e = t.exception()) {
      exc_ = std::move(e);
      complete_locked(lock, kException);
      return;
    }
    try {
      if constexpr (!std::is_void_v<T>) {
        if constexpr (std::is_copy_constructible_v<T>) {
          value_.emplace(t.result());
        } else {
          // Task<T>::result() copies; co_await's path for a done task moves a move-only
          // result out (taken once; this is its only reader).
          value_.emplace(t.operator co_await().await_resume());
        }
      }
    } catch (...) {
      exc_ = std::current_exception();
      complete_locked(lock, kException);
      return;
    }
    complete_locked(lock, kResult);
  }

  // The loop was closed with the coroutine never started, or with the done callback never run.
  void abandon() noexcept {
    try {
      Task<T> task;
      {
        std::lock_guard lock(mu_);
        task = task_;
      }
      if (task.valid() && task.done()) {
        finish_from(task);
      } else {
        cancel_state();  // the runtime shut down before the coroutine could start
      }
    } catch (...) {
    }
  }

  // Asks the loop to cancel the task, if it was created.
  void cancel_task() {
    Task<T> task;
    {
      std::lock_guard lock(mu_);
      task = task_;
    }
    if (task.valid()) task.cancel();
  }

  // Guard for a callback handed to the loop: if the loop drops it unrun, abandon().
  struct Guard {
    explicit Guard(std::shared_ptr<ConcurrentState> s) noexcept : state(std::move(s)) {}
    Guard(Guard&&) noexcept = default;
    Guard& operator=(Guard&&) = delete;
    ~Guard() {
      if (state) state->abandon();
    }
    std::shared_ptr<ConcurrentState> state;
  };

  std::optional<Storage> value_;  // guarded by mu_; immutable once done

 private:
  Task<T> task_;  // guarded by mu_; set while the task runs, reset once its outcome is copied
};

}  // namespace detail

// concurrent.futures.Future for a coroutine running on a weft loop. A shared handle: copies
// refer to the same result. Any thread.
template <class T = void>
class ConcurrentFuture {
 public:
  using value_type = T;
  using State = detail::ConcurrentState<T>;

  ConcurrentFuture() noexcept = default;
  explicit ConcurrentFuture(std::shared_ptr<State> s) noexcept : s_(std::move(s)) {}

  [[nodiscard]] bool valid() const noexcept { return s_ != nullptr; }
  [[nodiscard]] bool done() const { return s_->state() != State::kPending; }
  [[nodiscard]] bool cancelled() const { return s_->state() == State::kCancelled; }

  // Blocks until done, then returns the coroutine's result; rethrows its exception;
  // CancelledError if cancelled. A move-only result is moved out (taken once).
  T result() const { return get(std::nullopt); }
  // As result(), but raises TimeoutError if not done within `timeout` (the coroutine keeps
  // running, as in concurrent.futures: cancel() it if it should stop).
  template <class Rep, class Period>
  T result(std::chrono::duration<Rep, Period> timeout) const {
    return get(deadline(timeout));
  }
  // Blocks until done; null for a result, the exception otherwise; CancelledError if cancelled.
  std::exception_ptr exception() const {
    s_->wait_and_check(std::nullopt, /*rethrow=*/false);
    return s_->stored_exception();
  }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    s_->wait_and_check(deadline(timeout), /*rethrow=*/false);
    return s_->stored_exception();
  }
  // Blocks until done or the timeout passes; returns done() (concurrent.futures.wait, for one).
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    return s_->wait_until(deadline(timeout));
  }
  void wait() const { s_->wait_until(std::nullopt); }

  // Cancels: false if already done. Otherwise the future is cancelled at once (result() raises
  // CancelledError) and the task is cancelled on its loop through call_soon_threadsafe.
  bool cancel() {
    if (!s_->cancel_state()) return false;
    try {
      s_->loop().call_soon_threadsafe([s = s_] { s->cancel_task(); });
    } catch (const RuntimeError&) {
      // The loop is closed: its tasks were cancelled when it shut down.
    }
    return true;
  }

  // fn(ConcurrentFuture<T>) runs once the future is done: on the thread that completes it (the
  // loop's, or the one calling cancel()), or at once on this thread if it already is.
  template <class F>
    requires std::is_invocable_v<F&, ConcurrentFuture<T>>
  void add_done_callback(F fn) {
    // A weak reference: a callback that held the state strongly would keep it alive in a cycle
    // while pending.
    std::weak_ptr<State> w = s_;
    s_->add_done_callback([w = std::move(w), fn = std::move(fn)]() mutable {
      if (auto s = w.lock()) fn(ConcurrentFuture<T>(std::move(s)));
    });
  }

 private:
  template <class Rep, class Period>
  static std::chrono::steady_clock::time_point deadline(std::chrono::duration<Rep, Period> d) {
    auto now = std::chrono::steady_clock::now();
    if (d <= d.zero()) return now;
    // Saturate: result(std::chrono::hours::max()) must not overflow into the past.
    auto room = std::chrono::steady_clock::time_point::max() - now;
    if (d >= std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(room)) {
      return std::chrono::steady_clock::time_point::max();
    }
    return now + std::chrono::ceil<std::chrono::steady_clock::duration>(d);
  }
  T get(std::optional<std::chrono::steady_clock::time_point> dl) const {
    s_->wait_and_check(dl, /*rethrow=*/true);
    if constexpr (!std::is_void_v<T>) {
      // Immutable once done: read without the lock (wait_and_check's lock acquire ordered it).
      if constexpr (std::is_copy_constructible_v<T>) {
        return *s_->value_;
      } else {
        return std::move(*s_->value_);
      }
    }
  }

  std::shared_ptr<State> s_;
};

// asyncio.run_coroutine_threadsafe(coro, loop): schedules `coro` as a task on `loop` from any
// thread and returns a ConcurrentFuture for its outcome. Raises RuntimeError("Event loop is
// closed") if `loop` is closed.
template <class T>
ConcurrentFuture<T> run_coroutine_threadsafe(Coro<T> coro, EventLoop& loop) {
  if (!coro.valid()) throw ValueError("a coroutine was expected, got an empty or awaited Coro");
  auto state = std::make_shared<detail::ConcurrentState<T>>(&loop);
  using Guard = typename detail::ConcurrentState<T>::Guard;
  loop.call_soon_threadsafe([g = Guard(state), coro = std::move(coro)]() mutable {
    std::shared_ptr<detail::ConcurrentState<T>> s = std::move(g.state);
    s->start(s, std::move(coro));
  });
  return ConcurrentFuture<T>(std::move(state));
}

}  // namespace weft
