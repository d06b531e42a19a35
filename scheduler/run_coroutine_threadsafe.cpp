#include <weft/scheduler/run_coroutine_threadsafe.hpp>

namespace weft::detail {

ConcurrentStateBase::State ConcurrentStateBase::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

bool ConcurrentStateBase::wait_until(
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  std::unique_lock lock(mu_);
  if (state_ != kPending) return true;
  if (loop_->on_loop_thread()) {
    // The coroutine needs this very thread to make progress.
    throw RuntimeError(
        "ConcurrentFuture would block the event loop it waits for; await the coroutine instead");
  }
  auto done = [this] { return state_ != kPending; };
  if (!deadline) {
    cv_.wait(lock, done);
    return true;
  }
  return cv_.wait_until(lock, *deadline, done);
}

void ConcurrentStateBase::wait_and_check(
    std::optional<std::chrono::steady_clock::time_point> deadline, bool rethrow) {
  if (!wait_until(deadline)) throw TimeoutError();
  std::lock_guard lock(mu_);
  switch (state_) {
    case kPending:  // not reached: wait_until returned true
      throw TimeoutError();
    case kCancelled:
      throw CancelledError();
    case kException:
      if (rethrow) std::rethrow_exception(exc_);
      return;
    case kResult:
      return;
  }
}

std::exception_ptr ConcurrentStateBase::stored_exception() const {
  std::lock_guard lock(mu_);
  return exc_;
}

void ConcurrentStateBase::complete_locked(std::unique_lock<std::mutex>& lock, State s) {
  state_ = s;
  std::vector<UniqueFunction> callbacks = std::move(callbacks_);
  callbacks_.clear();
  lock.unlock();
  cv_.notify_all();  // the state is owned by shared_ptrs, so it outlives this call
  for (auto& fn : callbacks) {
    try {
      fn();
    } catch (...) {
      // concurrent.futures logs and ignores exceptions raised by done callbacks.
      loop_->call_exception_handler(
          {"exception calling callback for ConcurrentFuture", std::current_exception(), {}});
    }
  }
}

bool ConcurrentStateBase::cancel_state() {
  std::unique_lock lock(mu_);
  if (state_ != kPending) return false;
  complete_locked(lock, kCancelled);
  return true;
}

bool ConcurrentStateBase::set_exception(std::exception_ptr e) {
  std::unique_lock lock(mu_);
  if (state_ != kPending) return false;
  exc_ = std::move(e);
  complete_locked(lock, kException);
  return true;
}

void ConcurrentStateBase::add_done_callback(UniqueFunction fn) {
  std::unique_lock lock(mu_);
  if (state_ == kPending) {
    callbacks_.push_back(std::move(fn));
    return;
  }
  lock.unlock();
  fn();
}

}  // namespace weft::detail
