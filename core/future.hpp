// Future<T> (asyncio.Future): a result that someone sets later, awaited by tasks.
//
// Unlike asyncio's, weft futures are thread-safe: set_result / set_exception / cancel may be
// called from any thread (a worker, an executor thread, a plain std::thread); one atomic state
// decides which completion wins, and the losers get InvalidStateError (set_*) or false (cancel).
// Waiters are woken through their loops (call_soon_threadsafe when the caller is not a worker).
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <weft/core/detail/await.hpp>
#include <weft/core/detail/done_callback.hpp>
#include <weft/core/errors.hpp>
#include <weft/core/future_base.hpp>
#include <weft/core/task.hpp>

namespace weft {
namespace detail {

template <class T>
class FutureState final : public FutureBase, public PooledAlloc {
 public:
  explicit FutureState(LoopBase* loop) noexcept : FutureBase(loop, 1) {}

  template <class U>
  bool try_set_result(U&& v) {
    return complete([&] {
      value_.emplace(std::forward<U>(v));
      return kResult;
    });
  }
  bool try_set_exception(std::exception_ptr e) {
    return complete([&] {
      exc_ = std::move(e);
      return kException;
    });
  }
  std::optional<T> value_;  // immutable once done

 private:
  void destroy() noexcept override {
    if (state() == kException && !retrieved_.load(memory_order_relaxed)) report_unretrieved();
    delete this;
  }
  [[nodiscard]] std::string describe() const override { return "Future"; }
};

template <>
class FutureState<void> final : public FutureBase, public PooledAlloc {
 public:
  explicit FutureState(LoopBase* loop) noexcept : FutureBase(loop, 1) {}
  bool try_set_result() {
    return complete([] { return kResult; });
  }
  bool try_set_exception(std::exception_ptr e) {
    return complete([&] {
      exc_ = std::move(e);
      return kException;
    });
  }

 private:
  void destroy() noexcept override {
    if (state() == kException && !retrieved_.load(memory_order_relaxed)) report_unretrieved();
    delete this;
  }
  [[nodiscard]] std::string describe() const override { return "Future"; }
};

[[noreturn]] void throw_future_done(FutureBase::State s);

}  // namespace detail

template <class T = void>
class Future {
 public:
  using value_type = T;

  // A future bound to the running loop (asyncio's loop.create_future()); RuntimeError outside
  // one. EventLoop::create_future binds to a given loop.
  static Future create() { return Future(&detail::running_loop()); }
  explicit Future(detail::LoopBase* loop) : s_(new detail::FutureState<T>(loop)) {}

  Future(const Future& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  Future(Future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Future& operator=(Future o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Future() {
    if (s_) s_->release();
  }
  [[nodiscard]] bool valid() const noexcept { return s_ != nullptr; }

  template <class U = T>
    requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>)
  void set_result(U&& v) {
    if (!s_->try_set_result(std::forward<U>(v))) detail::throw_future_done(s_->state());
  }
  void set_result()
    requires std::is_void_v<T>
  {
    if (!s_->try_set_result()) detail::throw_future_done(s_->state());
  }
  void set_exception(std::exception_ptr e) {
    if (!e) throw ValueError("set_exception() needs an exception");
    if (!s_->try_set_exception(std::move(e))) detail::throw_future_done(s_->state());
  }
  template <class E>
    requires std::is_base_of_v<std::exception, std::decay_t<E>>
  void set_exception(E&& e) {
    set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }
  bool cancel(std::string msg = {}) noexcept { return s_->cancel_future(std::move(msg)); }

  [[nodiscard]] bool done() const noexcept { return s_->done(); }
  [[nodiscard]] bool cancelled() const noexcept { return s_->cancelled(); }
  T result() const {
    s_->check_result();
    if constexpr (!std::is_void_v<T>) return *s_->value_;
  }
  [[nodiscard]] std::exception_ptr exception() const { return s_->exception(); }
  [[nodiscard]] EventLoop& get_loop() const noexcept { return detail::to_event_loop(s_->loop()); }

  template <class F>
    requires std::is_invocable_v<F&, Future<T>>
  std::uint64_t add_done_callback(F fn) {
    return detail::add_done_callback(s_, [fn = std::move(fn)](detail::FutureBase* f) mutable {
      f->add_ref();
      fn(Future<T>(static_cast<detail::FutureState<T>*>(f)));
    });
  }
  std::size_t remove_done_callback(std::uint64_t id) noexcept { return s_->remove_done_callback(id); }

  struct Awaiter : detail::FutureAwaiter {
    Awaiter(detail::FutureState<T>* s, bool owned) noexcept : FutureAwaiter(s, owned) {}
    T await_resume() {
      resume_checks();
      if constexpr (!std::is_void_v<T>) {
        auto* state = static_cast<detail::FutureState<T>*>(awaited());
        if constexpr (std::is_copy_constructible_v<T>) {
          return *state->value_;
        } else {
          return std::move(*state->value_);
        }
      }
    }
  };
  Awaiter operator co_await() const& noexcept { return Awaiter(s_, false); }
  Awaiter operator co_await() && noexcept { return Awaiter(std::exchange(s_, nullptr), true); }

  [[nodiscard]] detail::FutureBase* base() const noexcept { return s_; }

 private:
  explicit Future(detail::FutureState<T>* adopt) noexcept : s_(adopt) {}
  detail::FutureState<T>* s_;
};

}  // namespace weft
