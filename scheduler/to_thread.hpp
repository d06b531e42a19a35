// run_in_executor / to_thread: bridge a blocking call to an executor and await its result.
//
// The call runs on an executor thread; its result (or exception) completes a Future bound to
// the calling task's loop, and the waiting task is woken through that loop's
// call_soon_threadsafe inbox. Cancelling the awaiting task cancels the future but cannot
// interrupt the call already running (as in asyncio).
#pragma once

#include <exception>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <weft/core/future.hpp>
#include <weft/scheduler/event_loop.hpp>
#include <weft/scheduler/executor.hpp>
#include <weft/scheduler/runtime.hpp>

namespace weft {

template <class F, class... Args>
using InvokeResult = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>;

namespace detail {
template <class R, class F, class... Args>
Future<R> submit_to(Executor& ex, EventLoop& loop, F&& fn, Args&&... args) {
  Future<R> fut = loop.create_future<R>();
  ex.submit([fut, fn = std::forward<F>(fn),
             args = std::make_tuple(std::forward<Args>(args)...)]() mutable {
    if (fut.done()) return;  // cancelled before it started: skip the call
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(fn, args);
        if (!fut.done()) fut.set_result();
      } else {
        R r = std::apply(fn, args);
        if (!fut.done()) fut.set_result(std::move(r));
      }
    } catch (const InvalidStateError&) {
      // Cancelled while running: the result has nowhere to go (asyncio drops it too).
    } catch (...) {
      try {
        fut.set_exception(std::current_exception());
      } catch (const InvalidStateError&) {
      }
    }
  });
  return fut;
}
}  // namespace detail

// loop.run_in_executor(executor, fn, args...): `executor` null means the default executor.
template <class F, class... Args>
Future<InvokeResult<F, Args...>> run_in_executor(Executor* executor, F&& fn, Args&&... args) {
  EventLoop& loop = get_running_loop();
  Executor& ex = executor ? *executor : loop.runtime().default_executor();
  return detail::submit_to<InvokeResult<F, Args...>>(ex, loop, std::forward<F>(fn),
                                                       std::forward<Args>(args)...);
}
template <class F, class... Args>
Future<InvokeResult<F, Args...>> run_in_executor(Executor& executor, F&& fn, Args&&... args) {
  return run_in_executor(&executor, std::forward<F>(fn), std::forward<Args>(args)...);
}

template <class F, class... Args>
auto EventLoop::run_in_executor(Executor* executor, F&& fn, Args&&... args) {
  Executor& ex = executor ? *executor : runtime().default_executor();
  return detail::submit_to<InvokeResult<F, Args...>>(ex, *this, std::forward<F>(fn),
                                                       std::forward<Args>(args)...);
}

// asyncio.to_thread(fn, args...): run_in_executor on the default executor.
template <class F, class... Args>
Future<InvokeResult<F, Args...>> to_thread(F&& fn, Args&&... args) {
  return run_in_executor(nullptr, std::forward<F>(fn), std::forward<Args>(args)...);
}

}  // namespace weft
