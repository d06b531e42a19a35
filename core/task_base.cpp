#include <weft/core/task_base.hpp>

#include <atomic>

namespace weft::detail {

namespace {
// Task numbers for default names come in blocks per thread so that spawning on many workers
// never contends on one counter.
constexpr std::uint64_t kNumberBlock = 1024;
std::atomic<std::uint64_t> g_next_block{0};
thread_local std::uint64_t tl_next = 0;
thread_local std::uint64_t tl_end = 0;
}  // namespace

std::uint64_t TaskBase::next_task_number() noexcept {
  if (tl_next == tl_end) {
    tl_next = g_next_block.fetch_add(kNumberBlock, memory_order_relaxed) + 1;
    tl_end = tl_next + kNumberBlock;
  }
  return tl_next++;
}

TaskBase::TaskBase(std::coroutine_handle<> root, LoopBase* loop, std::string name,
                   bool pinned) noexcept
    : FutureBase(loop, 2),  // the creator's Task handle + "alive" until the root finishes
      Runnable(Kind::kTask, &TaskBase::run_thunk),
      resume_(root),
      number_(name.empty() ? next_task_number() : 0),
      name_(name.empty() ? nullptr : std::make_unique<std::string>(std::move(name))) {
  pinned_ = pinned;
}

std::string TaskBase::take_pending_msg_locked() {
  std::string msg;
  if (pending_cancel_msg_) msg = std::move(*pending_cancel_msg_);
  pending_cancel_msg_.reset();
  return msg;
}

void TaskBase::run_thunk(Runnable* r) noexcept {
  auto* t = static_cast<TaskBase*>(r);
  TaskBase* prev = tls_current_task;
  tls_current_task = t;
  if (!t->started_) {
    t->started_ = true;
    // asyncio: a task cancelled before its first step never runs its body.
    if (t->must_cancel_hint_.load(memory_order_relaxed)) {
      t->lock();
      bool cancel_now = t->must_cancel_locked_;
      std::string msg = t->take_pending_msg_locked();
      t->must_cancel_locked_ = false;
      t->must_cancel_hint_.store(false, memory_order_relaxed);
      t->unlock();
      if (cancel_now) {
        tls_current_task = prev;
        t->finish(std::make_exception_ptr(CancelledError(std::move(msg))));
        return;
      }
    }
  }
  t->resume_.resume();
  tls_current_task = prev;
}

bool TaskBase::cancel(std::string msg) noexcept {
  mark_retrieved();
  if (done()) return false;
  lock();
  if (state_.load(memory_order_relaxed) != kPending) {
    unlock();
    return false;
  }
  num_cancels_requested_.fetch_add(1, memory_order_relaxed);
  if (fut_waiter_ != nullptr && fut_waiter_->cancel_wait(msg)) {
    // The wait is withdrawn and the task is (or will be) scheduled to see CancelledError.
    // fut_waiter_ stays: if the awaited task swallows the cancellation, cancelling again
    // must reach it again (asyncio keeps _fut_waiter for the same reason).
    unlock();
    return true;
  }
  must_cancel_locked_ = true;
  must_cancel_hint_.store(true, memory_order_relaxed);
  if (!msg.empty()) {
    pending_cancel_msg_ = std::make_unique<std::string>(std::move(msg));
  } else {
    pending_cancel_msg_.reset();
  }
  unlock();
  return true;
}

int TaskBase::uncancel() noexcept {
  lock();
  int n = num_cancels_requested_.load(memory_order_relaxed);
  if (n > 0) {
    --n;
    num_cancels_requested_.store(n, memory_order_relaxed);
    if (n == 0) {  // Python 3.13: a cancellation not yet delivered is withdrawn
      must_cancel_locked_ = false;
      must_cancel_hint_.store(false, memory_order_relaxed);
    }
  }
  unlock();
  return n;
}

void TaskBase::begin_wait_locked(Cancellable* w) noexcept {
  fut_waiter_ = w;
  if (must_cancel_locked_) {
    // asyncio's __step: a cancellation that arrived while we were running is delivered by
    // cancelling what we now wait on.
    if (w->cancel_wait(pending_cancel_msg_ ? *pending_cancel_msg_ : std::string())) {
      must_cancel_locked_ = false;
      must_cancel_hint_.store(false, memory_order_relaxed);
    }
  }
}

void TaskBase::end_wait() {
  lock();
  fut_waiter_ = nullptr;
  bool must = must_cancel_locked_;
  std::string msg;
  if (must) {
    must_cancel_locked_ = false;
    must_cancel_hint_.store(false, memory_order_relaxed);
    msg = take_pending_msg_locked();
  }
  unlock();
  if (must) throw CancelledError(std::move(msg));
}

void TaskBase::check_must_cancel() {
  if (!must_cancel_hint_.load(memory_order_relaxed)) return;
  end_wait();
}

void TaskBase::finish(std::exception_ptr error) noexcept {
  State final_state = kResult;
  std::string msg;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const CancelledError& c) {
      final_state = kCancelled;
      msg = c.message();
    } catch (...) {
      final_state = kException;
    }
  }
  complete([&] {
    if (final_state == kResult && must_cancel_locked_) {
      // asyncio: a cancellation requested during the last step turns the result into a
      // cancellation. complete() has lock_ held here.
      final_state = kCancelled;
      msg = take_pending_msg_locked();
    }
    if (final_state == kException) exc_ = error;
    if (final_state == kCancelled && !msg.empty()) {
      cancel_msg_ = std::make_unique<std::string>(std::move(msg));
    }
    return final_state;
  });
  if (registry_) registry_->remove(this);
  release();  // "alive"
}

std::string TaskBase::get_name() const {
  lock_.lock();
  std::string n = name_ ? *name_ : "Task-" + std::to_string(number_);
  lock_.unlock();
  return n;
}

void TaskBase::set_name(std::string name) {
  lock();
  name_ = std::make_unique<std::string>(std::move(name));
  unlock();
}

std::string TaskBase::describe() const { return "Task " + get_name(); }

void TaskBase::destroy() noexcept {
  if (state() == kException && !retrieved_.load(memory_order_relaxed)) report_unretrieved();
  std::coroutine_handle<> h = root();
  this->~TaskBase();
  h.destroy();  // frees the frame and this header with it
}

TaskBase& require_current_task(const char* what) {
  TaskBase* t = tls_current_task;
  if (t == nullptr) throw RuntimeError(std::string(what) + " called outside of a task");
  return *t;
}

void TaskRegistry::add(TaskBase* t) noexcept {
  lock_.lock();
  t->registry_ = this;
  t->reg_prev_ = nullptr;
  t->reg_next_ = head_;
  if (head_) head_->reg_prev_ = t;
  head_ = t;
  lock_.unlock();
}

void TaskRegistry::remove(TaskBase* t) noexcept {
  lock_.lock();
  if (t->reg_prev_) {
    t->reg_prev_->reg_next_ = t->reg_next_;
  } else {
    head_ = t->reg_next_;
  }
  if (t->reg_next_) t->reg_next_->reg_prev_ = t->reg_prev_;
  t->reg_prev_ = t->reg_next_ = nullptr;
  t->registry_ = nullptr;
  lock_.unlock();
}

}  // namespace weft::detail
