#include <weft/scheduler/thread_pool_executor.hpp>

#include <algorithm>

#include <weft/core/errors.hpp>

namespace weft {

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

void ThreadPoolExecutor::submit(detail::UniqueFunction fn) {
  std::unique_lock lock(mu_);
  if (shutdown_) throw RuntimeError("cannot schedule new futures after shutdown");
  queue_.push_back(std::move(fn));
  if (idle_ > 0) {
    lock.unlock();
    cv_.notify_one();
    return;
  }
  if (alive_ < max_workers_) {
    reap_locked();
    ++alive_;
    threads_.emplace_back([this] { worker(); });
  }
}

// Joins threads that retired (they cannot join themselves).
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
  std::unique_lock lock(mu_);
  for (;;) {
    if (!queue_.empty()) {
      detail::UniqueFunction fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();  // callers wrap their work; an escaping exception would be a bug in weft
      fn = detail::UniqueFunction();
      lock.lock();
      continue;
    }
    if (shutdown_) break;
    ++idle_;
    bool woke = cv_.wait_for(lock, idle_timeout_, [this] { return !queue_.empty() || shutdown_; });
    --idle_;
    if (!woke) break;  // idle too long: retire
  }
  --alive_;
  if (!shutdown_) retired_.push_back(std::this_thread::get_id());
}

void ThreadPoolExecutor::shutdown(bool wait) {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
    threads.swap(threads_);
    retired_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads) {
    if (wait) {
      t.join();
    } else {
      t.detach();
    }
  }
}

}  // namespace weft
