// sleep(delay): suspend the current task. sleep(0) (or a negative delay) yields: the task runs
// again after its loop's next I/O and timer poll, so a yielding loop never starves I/O.
// Cancelling a sleeping task withdraws its timer and raises CancelledError at the sleep.
#pragma once

#include <chrono>
#include <coroutine>
#include <string>

#include <weft/core/handle.hpp>
#include <weft/core/task_base.hpp>

namespace weft {

class SleepAwaiter : public detail::Cancellable {
 public:
  explicit SleepAwaiter(Clock::duration delay) noexcept : delay_(delay) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  SleepAwaiter& operator=(const SleepAwaiter&) = delete;
  ~SleepAwaiter();

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept;
  void await_resume();
  bool cancel_wait(const std::string& msg) noexcept override;

 private:
  Clock::duration delay_;
  detail::TaskBase* task_ = nullptr;
  detail::TimerNode* timer_ = nullptr;  // our reference; the loop's heap holds another
  std::string cancel_msg_;
  bool cancelled_ = false;
  bool outside_task_ = false;
};

template <class Rep, class Period>
[[nodiscard]] SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept {
  return SleepAwaiter(std::chrono::duration_cast<Clock::duration>(delay));
}
// Seconds, as asyncio.sleep(0.5). NaN raises ValueError.
[[nodiscard]] SleepAwaiter sleep(double seconds);

}  // namespace weft
