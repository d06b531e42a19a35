// run_in_executor / to_thread: bridge a blocking call to an executor and await its result.
//
// The call runs on an executor thread; its result (or exception) completes a Future bound to
// the calling task's loop, and the waiting task is woken through that loop's
// call_soon_threadsafe inbox. Cancelling the awaiting task cancels the future but cannot
// interrupt the call already running (as in asyncio): its late result or exception is dropped.
// A call still queued when the future is cancelled is skipped.
//
// The callable and its arguments are decay-copied (moved when given rvalues), as std::thread
// does: pass std::ref(x) to share x, and keep x alive until the call has finished - which may be
// after the awaiting task was cancelled.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include <weft/core/future.hpp>
#include <weft/scheduler/event_loop.hpp>
#include <weft/scheduler/executor.hpp>
#include <weft/scheduler/runtime.hpp>

namespace weft {

// What awaiting run_in_executor(ex, fn, args...) yields: fn's result, by value (a Future holds
// no references). The call is made once, with the decayed copies as rvalues (std::thread's
// rule), so move-only arguments work.
template <class F, class... Args>
using InvokeResult =
    std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>;

namespace detail {
template <class R, class F, class... Args>
Future<R> submit_to(Executor& ex, EventLoop& loop, F&& fn, Args&&... args) {
  Future<R> fut = loop.create_future<R>();
  ex.submit([fut, fn = std::forward<F>(fn),
             args = std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)]() mutable {
    // The try_set_* calls return false when the future was cancelled meanwhile: the result has
    // nowhere to go and is dropped (asyncio drops it too). They are used rather than
    // Future::set_* so that an InvalidStateError thrown by the user's function itself is
    // delivered like any other exception, not mistaken for "cancelled".
    auto* state = static_cast<FutureState<R>*>(fut.base());
    if (state->done()) return;  // cancelled before it started: skip the call
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(std::move(fn), std::move(args));
        state->try_set_result();
      } else {
        state->try_set_result(std::apply(std::move(fn), std::move(args)));
      }
    } catch (...) {
      // Also reached when storing the result throws (its copy or move): the future is still
      // pending then, and gets that exception.
      state->try_set_exception(std::current_exception());
    }
  });
  return fut;
}
}  // namespace detail

// loop.run_in_executor(executor, fn, args...): `executor` null means the running runtime's default
// executor. Call it from a task; the returned Future is bound to the running loop. Raises
// RuntimeError("no running event loop") outside one, and the executor's RuntimeError after its
// shutdown.
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

// loop.run_in_executor(executor, fn, args...) on a given loop (declared in event_loop.hpp):
// the returned Future is bound to this loop. Any thread may call it.
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

// loop.set_default_executor(executor), on the running loop's runtime (every loop of a runtime
// shares one default executor). Any Executor is accepted (asyncio insists on a
// ThreadPoolExecutor); null restores a fresh default ThreadPoolExecutor on next use. The runtime
// shuts the executor down (waiting) when it closes. Raises RuntimeError("no running event loop")
// outside a loop; outside one, use Runner::runtime().set_default_executor().
inline void set_default_executor(std::shared_ptr<Executor> executor) {
  get_running_loop().runtime().set_default_executor(std::move(executor));
}

}  // namespace weft
