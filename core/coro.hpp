// Coro<T>: a lazy coroutine. Calling a Coro-returning function allocates its frame and runs
// nothing; `co_await`ing it runs it inline, with symmetric transfer both ways (no scheduler round
// trip, no stack growth over deep await chains); create_task() turns it into a Task.
//
// Move-only and single-use: awaiting the same Coro twice raises RuntimeError, as asyncio does
// ("cannot reuse already awaited coroutine"). Destroying one never awaited frees its frame
// (in debug mode the loop reports it, as asyncio's "coroutine ... was never awaited").
//
// Frames are allocated with room for a TaskBase header in front (kFramePrefix bytes), so that
// create_task() can build the task in place: one allocation per task.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include <weft/core/detail/frame_allocator.hpp>
#include <weft/core/errors.hpp>
#include <weft/core/task_base.hpp>

namespace weft {
namespace detail {

// Written into the prefix of every frame so create_task can tell a frame it may build a task in
// from one the compiler placed elsewhere (heap allocation elision).
inline constexpr std::uint64_t kFrameCookie = 0x7765667446524d45ull;  // "weftFRME"

void report_never_awaited() noexcept;

class PromiseBase {
 public:
  static void* operator new(std::size_t n) {
    auto* base = static_cast<char*>(frame_alloc(n + kFramePrefix));
    *reinterpret_cast<std::uint64_t*>(base) = kFrameCookie;
    return base + kFramePrefix;
  }
  static void operator delete(void* p, std::size_t n) noexcept {
    frame_free(static_cast<char*>(p) - kFramePrefix, n + kFramePrefix);
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      PromiseBase& p = h.promise();
      if (p.continuation_) return p.continuation_;
      if (p.task_) p.task_->finish(p.exception_);  // may free this frame
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  std::coroutine_handle<> continuation_;  // the awaiting coroutine when awaited inline
  TaskBase* task_ = nullptr;              // the task whose root this is, if any
  std::exception_ptr exception_;
};

template <class T>
class CoroPromise;

}  // namespace detail

template <class T = void>
class [[nodiscard]] Coro {
 public:
  using promise_type = detail::CoroPromise<T>;
  using value_type = T;
  using Handle = std::coroutine_handle<promise_type>;

  Coro() noexcept = default;
  explicit Coro(Handle h) noexcept : h_(h) {}
  Coro(Coro&& o) noexcept : h_(std::exchange(o.h_, {})), consumed_(o.consumed_) {}
  Coro& operator=(Coro&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
      consumed_ = o.consumed_;
    }
    return *this;
  }
  Coro(const Coro&) = delete;
  Coro& operator=(const Coro&) = delete;
  ~Coro() { reset(); }

  // False for an empty Coro and for one already awaited (its frame has run; it cannot run again).
  [[nodiscard]] bool valid() const noexcept { return h_ && !consumed_; }

  struct Awaiter {
    Handle h;
    bool await_ready() const noexcept { return !h; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
      h.promise().continuation_ = caller;
      return h;  // symmetric transfer: run the child on this stack frame's behalf
    }
    T await_resume() {
      if (!h) throw RuntimeError("cannot reuse already awaited coroutine");
      return h.promise().take_result();
    }
  };
  Awaiter operator co_await() & noexcept { return {take_for_await()}; }
  Awaiter operator co_await() && noexcept { return {take_for_await()}; }

  // Gives up the frame (create_task takes it).
  Handle release() noexcept {
    if (consumed_) return {};  // already awaited: the finished frame stays ours (~Coro frees it)
    consumed_ = true;
    return std::exchange(h_, {});
  }

 private:
  // The frame stays owned by this Coro (freed by its destructor); a second await finds it
  // consumed and raises.
  Handle take_for_await() noexcept {
    if (consumed_) return {};
    consumed_ = true;
    return h_;
  }
  void reset() noexcept {
    if (h_) {
      if (!consumed_) detail::report_never_awaited();
      h_.destroy();
      h_ = {};
    }
  }

  Handle h_;
  bool consumed_ = false;
};

namespace detail {

template <class T>
class CoroPromise : public PromiseBase {
 public:
  CoroPromise() noexcept {}
  ~CoroPromise() {
    if (has_value_) value_.~T();
  }
  Coro<T> get_return_object() noexcept {
    return Coro<T>(std::coroutine_handle<CoroPromise>::from_promise(*this));
  }
  template <class U = T>
    requires std::is_constructible_v<T, U&&>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<U>(v));
    has_value_ = true;
  }
  T take_result() {
    if (exception_) std::rethrow_exception(exception_);
    return std::move(value_);
  }
  // For Task<T>: the value stays in the frame so any number of awaiters can read it.
  const T& value() const noexcept { return value_; }
  T& value() noexcept { return value_; }

 private:
  union {
    T value_;
  };
  bool has_value_ = false;
};

template <>
class CoroPromise<void> : public PromiseBase {
 public:
  Coro<void> get_return_object() noexcept {
    return Coro<void>(std::coroutine_handle<CoroPromise>::from_promise(*this));
  }
  void return_void() noexcept {}
  void take_result() {
    if (exception_) std::rethrow_exception(exception_);
  }
};

}  // namespace detail
}  // namespace weft
