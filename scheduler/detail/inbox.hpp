// A loop's inbox: what other threads hand it (call_soon_threadsafe callbacks, wake-ups of tasks
// pinned here or woken from non-worker threads). Many producers, one consumer (the loop).
//
// A Treiber stack that the consumer empties in one exchange and reverses, so each producer's
// items come out in the order it pushed them. Producers never pop, so there is no ABA.
// push() is seq_cst: it is one half of the Dekker pair with the loop's `parked_` flag
// (push; load parked_  vs  store parked_; load head_), so a push is never missed by a loop
// that is going to sleep.
#pragma once

#include <cstddef>

#include <weft/core/detail/atomic.hpp>
#include <weft/core/detail/runnable.hpp>

namespace weft::detail {

class Inbox {
 public:
  void push(Runnable* r) noexcept {
    Runnable* head = head_.load(memory_order_relaxed);
    do {
      r->next_ = head;
    } while (!head_.compare_exchange_weak(head, r, memory_order_seq_cst, memory_order_relaxed));
  }
  // Takes everything, oldest first. Consumer only.
  Runnable* take_all(std::size_t* n) noexcept {
    if (head_.load(memory_order_relaxed) == nullptr) {
      *n = 0;
      return nullptr;
    }
    // acquire: pairs with the pushes; their writes to the nodes are visible.
    Runnable* r = head_.exchange(nullptr, memory_order_acquire);
    Runnable* reversed = nullptr;
    std::size_t count = 0;
    while (r) {
      Runnable* next = r->next_;
      r->next_ = reversed;
      reversed = r;
      r = next;
      ++count;
    }
    *n = count;
    return reversed;
  }
  [[nodiscard]] bool empty() const noexcept { return head_.load(memory_order_seq_cst) == nullptr; }

 private:
  alignas(kCacheLine) atomic<Runnable*> head_{nullptr};
};

}  // namespace weft::detail
