// The unit every run queue holds: a task step or a callback.
//
// Queues link Runnables intrusively through `next_`, so scheduling never allocates. A Runnable is
// in at most one queue at a time; whoever pops it owns that queue's reference and calls run().
#pragma once

#include <cstdint>

namespace weft::detail {

class Runnable {
 public:
  enum class Kind : std::uint8_t { kTask, kCallback };

  using RunFn = void (*)(Runnable*) noexcept;

  Runnable(Kind kind, RunFn run) noexcept : run_(run), kind_(kind) {}

  // Runs the step and gives up the queue's reference. The object may be gone on return.
  void run() noexcept { run_(this); }
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

  Runnable* next_ = nullptr;  // intrusive link, owned by whichever queue holds this

 private:
  RunFn run_;
  Kind kind_;

 protected:
  // A task pinned to its loop, or a callback (callbacks always run on the loop they were given
  // to): never stolen by another worker.
  bool pinned_ = false;

 public:
  [[nodiscard]] bool pinned() const noexcept { return pinned_; }
};

// A FIFO of Runnables for one owning thread: no atomics.
class RunnableFifo {
 public:
  void push_back(Runnable* r) noexcept {
    r->next_ = nullptr;
    if (tail_) {
      tail_->next_ = r;
    } else {
      head_ = r;
    }
    tail_ = r;
    ++size_;
  }
  // Appends a chain already linked through next_ (last->next_ must be null).
  void append(Runnable* first, Runnable* last, std::size_t n) noexcept {
    if (!first) return;
    if (tail_) {
      tail_->next_ = first;
    } else {
      head_ = first;
    }
    tail_ = last;
    size_ += n;
  }
  [[nodiscard]] Runnable* pop_front() noexcept {
    Runnable* r = head_;
    if (r) {
      head_ = r->next_;
      if (!head_) tail_ = nullptr;
      r->next_ = nullptr;
      --size_;
    }
    return r;
  }
  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // Takes the whole chain out (head, tail, count).
  Runnable* take_all(Runnable** last, std::size_t* n) noexcept {
    Runnable* h = head_;
    *last = tail_;
    *n = size_;
    head_ = tail_ = nullptr;
    size_ = 0;
    return h;
  }

 private:
  Runnable* head_ = nullptr;
  Runnable* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace weft::detail
