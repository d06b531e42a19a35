// A loop's timers: a 4-ary min-heap of TimerNode* keyed on the deadline, each node knowing its
// index, so insert, cancel (remove) and pop are O(log n) and a million live timers cost
// 8 bytes of heap each beside their nodes. Owning loop's thread only.
//
// A 4-ary heap halves the depth of a binary one and keeps the four children in one cache line
// of pointers (the layout libuv and Go's runtime timers use).
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
  [[nodiscard]] detail::TimerNode* top() const noexcept { return heap_.empty() ? nullptr : heap_[0]; }
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
  void place(std::size_t i, detail::TimerNode* n) noexcept {
    heap_[i] = n;
    n->heap_index_ = static_cast<std::uint32_t>(i);
  }
  void erase_at(std::size_t i) noexcept;

  std::vector<detail::TimerNode*> heap_;
};

}  // namespace weft::io
