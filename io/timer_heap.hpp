// A loop's timers: a 4-ary min-heap of (deadline, TimerNode*) entries, each node knowing its
// index, so insert, cancel (remove) and pop are O(log n) and a million live timers cost 16
// bytes of heap each beside their nodes. Owning loop's thread only.
//
// The deadline is copied into the entry so that sifting compares without touching the nodes:
// with a million timers every node dereference is a cache miss (that cost 9 s for a million
// sleeping tasks before). A 4-ary heap halves the depth of a binary one and its four children's
// entries share one 64-byte cache line (Go's runtime timers use the same shape).
#pragma once

#include <cstddef>
#include <vector>

#include <weft/core/handle.hpp>

namespace weft::io {

class TimerHeap {
 public:
  TimerHeap() = default;
  TimerHeap(const TimerHeap&) = delete;
  TimerHeap& operator=(const TimerHeap&) = delete;
  ~TimerHeap();

  // Takes the caller's reference to `node`.
  void push(detail::TimerNode* node);
  // Removes `node` if it is in the heap, dropping the heap's reference.
  void remove(detail::TimerNode* node) noexcept;
  [[nodiscard]] detail::TimerNode* top() const noexcept {
    return heap_.empty() ? nullptr : heap_[0].node;
  }
  // Removes the top and hands its reference to the caller.
  detail::TimerNode* pop() noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }
  [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }
  // Drops every cancelled node (after many were cancelled from other threads).
  void purge_cancelled() noexcept;
  // Drops everything (loop close).
  void clear() noexcept;

 private:
  static constexpr std::size_t kArity = 4;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  struct Entry {
    Clock::time_point when;
    detail::TimerNode* node;
  };
  void place(std::size_t i, Entry e) noexcept {
    heap_[i] = e;
    e.node->heap_index_ = static_cast<std::uint32_t>(i);
  }
  void erase_at(std::size_t i) noexcept;

  std::vector<Entry> heap_;
};

}  // namespace weft::io
