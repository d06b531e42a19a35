// The executor interface behind run_in_executor / to_thread: somewhere to run a blocking or
// CPU-bound callable off the event loops. Implementations: ThreadPoolExecutor (blocking calls,
// the default), CpuExecutor (a oneTBB task_arena, for CPU-bound work).
#pragma once

#include <weft/core/detail/unique_function.hpp>

namespace weft {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `fn` on one of the executor's threads. Any thread. Raises RuntimeError after
  // shutdown ("cannot schedule new futures after shutdown", as concurrent.futures does).
  virtual void submit(detail::UniqueFunction fn) = 0;
  // Stops accepting work; with wait, returns once every submitted call has finished.
  virtual void shutdown(bool wait = true) = 0;
};

namespace detail {
// An exception escaped a callable given straight to submit() (run_in_executor wraps its work so
// nothing escapes): letting it propagate would terminate the process or kill a pool thread, so
// it is printed to stderr instead. Call from a catch block.
void report_escaped_exception(const char* executor) noexcept;
}  // namespace detail

}  // namespace weft
