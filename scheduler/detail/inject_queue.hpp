// The runtime's global injection queue: where a worker's full ring overflows (in batches of half
// a ring) and where idle workers look before stealing. A mutex-guarded intrusive FIFO: it is
// touched once per overflow batch or per refill, never per task. `size_` lets workers skip the
// lock when it is empty.
#pragma once

#include <cstddef>
#include <mutex>

#include <weft/core/detail/atomic.hpp>
#include <weft/core/detail/runnable.hpp>

namespace weft::detail {

class InjectQueue {
 public:
  void push_batch(Runnable** items, std::size_t n) {
    if (n == 0) return;
    for (std::size_t i = 0; i + 1 < n; ++i) items[i]->next_ = items[i + 1];
    items[n - 1]->next_ = nullptr;
    std::lock_guard lock(mu_);
    if (tail_) {
      tail_->next_ = items[0];
    } else {
      head_ = items[0];
    }
    tail_ = items[n - 1];
    size_.store(size_.load(memory_order_relaxed) + n, memory_order_seq_cst);
  }
  // Pops up to `max` items into out[]; returns how many.
  std::size_t pop_batch(Runnable** out, std::size_t max) {
    if (size_.load(memory_order_acquire) == 0) return 0;
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    while (n < max && head_) {
      Runnable* r = head_;
      head_ = r->next_;
      r->next_ = nullptr;
      out[n++] = r;
    }
    if (!head_) tail_ = nullptr;
    size_.store(size_.load(memory_order_relaxed) - n, memory_order_relaxed);
    return n;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_.load(memory_order_seq_cst); }

 private:
  std::mutex mu_;
  Runnable* head_ = nullptr;  // guarded by mu_
  Runnable* tail_ = nullptr;  // guarded by mu_
  atomic<std::size_t> size_{0};  // written under mu_; read without it as a hint
};

}  // namespace weft::detail
