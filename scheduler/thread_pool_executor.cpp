#include <weft/scheduler/thread_pool_executor.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include <weft/core/errors.hpp>

namespace weft {

namespace {
// How long an idle pool thread watches for the next call before sleeping: long enough to
// cover a loop resuming the caller and submitting again, short enough not to matter when idle.
constexpr std::chrono::microseconds kSpinFor{50};

// The pool whose worker() runs on this thread (to refuse a shutdown that would wait for itself).
thread_local const ThreadPoolExecutor* tls_pool = nullptr;

}  // namespace

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t max_workers,
                                       std::chrono::milliseconds idle_timeout)
    : max_workers_(max_workers), idle_timeout_(idle_timeout) {
  if (max_workers == 0) throw ValueError("max_workers must be greater than 0");
}

ThreadPoolExecutor::~ThreadPoolExecutor() { shutdown(true); }

std::size_t ThreadPoolExecutor::thread_count() const {
  std::lock_guard lock(mu_);
  return alive_;
}

std::size_t ThreadPoolExecutor::idle_count() const {
  std::lock_guard lock(mu_);
  return idle_;
}

void ThreadPoolExecutor::submit(detail::UniqueFunction fn) {
  std::unique_lock lock(mu_);
  if (shutdown_) throw RuntimeError("cannot schedule new futures after shutdown");
  queue_.push_back(std::move(fn));
  queued_.store(queue_.size(), std::memory_order_relaxed);
  // An idle thread that was already notified for an earlier item still counts in idle_ until it
  // wakes, so idle_ > 0 alone does not mean someone is free for this item: compare with the
  // number of items waiting (Python's _idle_semaphore does the same accounting).
  if (queue_.size() <= idle_) {
    // The spinner (if any) takes the first waiting item without being woken.
    if (spinner_ && queue_.size() == 1) return;
    lock.unlock();
    cv_.notify_one();
    return;
  }
  if (alive_ >= max_workers_) return;  // at the bound: the item waits for a busy thread
  reap_locked();
  ++alive_;
  try {
    threads_.emplace_back([this] { worker(); });
  } catch (...) {
    // No thread: if none is left to drain the queue, take the item back and report the failure.
    --alive_;
    if (alive_ == 0) {
      queue_.pop_back();
      throw;
    }
  }
}

// Joins threads that retired (they cannot join themselves). A retired thread has already
// released mu_ for good, so joining it here cannot deadlock.
void ThreadPoolExecutor::reap_locked() {
  if (retired_.empty()) return;
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (std::find(retired_.begin(), retired_.end(), it->get_id()) != retired_.end()) {
      it->join();  // it has left worker(); join returns at once
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  retired_.clear();
}

void ThreadPoolExecutor::worker() {
  tls_pool = this;
  std::unique_lock lock(mu_);
  bool spun = false;  // this thread already spun since its last item: sleep now
  for (;;) {
    if (!queue_.empty()) {
      detail::UniqueFunction fn = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_relaxed);
      spun = false;
      lock.unlock();
      try {
        fn();
      } catch (...) {
        detail::report_escaped_exception("ThreadPoolExecutor");
      }
      fn = detail::UniqueFunction();  // the callable's captures die outside the lock
      lock.lock();
      continue;
    }
    if (shutdown_) break;
    if (!spinner_ && !spun) {
      spinner_ = true;
      spun = true;
      ++idle_;
      lock.unlock();
      const auto until = std::chrono::steady_clock::now() + kSpinFor;
      while (queued_.load(std::memory_order_relaxed) == 0 &&
             !stop_spin_.load(std::memory_order_relaxed) &&
             std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();  // on a small machine the loop thread needs this core
      }
      lock.lock();
      spinner_ = false;
      --idle_;
      continue;
    }
    ++idle_;
    bool woke = cv_.wait_for(lock, idle_timeout_, [this] { return !queue_.empty() || shutdown_; });
    --idle_;
    if (!woke) break;  // idle too long (and the queue is empty, checked under mu_): retire
  }
  --alive_;
  if (shutdown_) {
    // Notified under mu_: a shutdown(true) caller may destroy the pool as soon as it can lock.
    if (alive_ == 0) all_exited_.notify_all();
  } else {
    retired_.push_back(std::this_thread::get_id());
  }
  tls_pool = nullptr;
}

void ThreadPoolExecutor::shutdown(bool wait) {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
    stop_spin_.store(true, std::memory_order_relaxed);
    cv_.notify_all();
    // shutdown(false) keeps the threads in threads_: they are joined by a later shutdown(true)
    // or the destructor. (Detaching them would let them touch this pool after it is freed.)
    if (!wait) return;
    if (tls_pool == this) throw RuntimeError("cannot join current thread");
    threads.swap(threads_);
    retired_.clear();
  }
  for (auto& t : threads) t.join();
  // A concurrent shutdown(true) may have taken the threads: wait for them to leave worker() too,
  // so every caller returns only once all submitted work has finished.
  std::unique_lock lock(mu_);
  all_exited_.wait(lock, [this] { return alive_ == 0; });
}

}  // namespace weft
