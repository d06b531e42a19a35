#include <weft/core/sleep.hpp>

#include <cmath>

#include <weft/core/errors.hpp>

namespace weft {

SleepAwaiter sleep(double seconds) {
  if (std::isnan(seconds)) throw ValueError("Invalid delay: NaN (not a number)");
  if (seconds <= 0) return SleepAwaiter(Clock::duration::zero());
  return SleepAwaiter(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(seconds)));
}

SleepAwaiter::~SleepAwaiter() {
  if (timer_) timer_->release();
}

bool SleepAwaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  detail::TaskBase* t = detail::tls_current_task;
  if (t == nullptr) {
    outside_task_ = true;
    return false;
  }
  task_ = t;
  t->resume_ = h;
  detail::LoopBase* loop = t->loop();
  if (delay_ <= Clock::duration::zero()) {
    loop->yield(t);
    return true;
  }
  // Two references: the loop's heap and this awaiter (kept until the task resumes, so that a
  // concurrent cancel_wait never touches a freed node).
  timer_ = detail::make_callback<detail::TimerNode>(loop, 2, [t] { t->loop()->schedule(t); });
  timer_->when_ = loop->now() + delay_;
  timer_->direct_ = true;
  t->lock();
  loop->add_timer(timer_);
  t->begin_wait_locked(this);
  t->unlock();
  return true;
}

bool SleepAwaiter::cancel_wait(const std::string& msg) noexcept {
  if (timer_ == nullptr || !timer_->cancel()) return false;  // fired first: nothing to withdraw
  cancelled_ = true;
  cancel_msg_ = msg;
  detail::LoopBase* loop = timer_->loop();
  loop->remove_timer(timer_);  // at once on the loop's thread, else lazily
  task_->loop()->schedule(task_);
  return true;
}

void SleepAwaiter::await_resume() {
  if (outside_task_) throw RuntimeError("sleep() called outside of a task");
  if (timer_ == nullptr) {
    task_->check_must_cancel();
    return;
  }
  task_->end_wait();
  if (cancelled_) throw CancelledError(std::move(cancel_msg_));
}

}  // namespace weft
