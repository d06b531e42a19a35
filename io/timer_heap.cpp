#include <weft/io/timer_heap.hpp>

#include <algorithm>

namespace weft::io {

TimerHeap::~TimerHeap() { clear(); }

void TimerHeap::push(detail::TimerNode* node) {
  heap_.push_back({node->when_, node});
  place(heap_.size() - 1, heap_.back());
  sift_up(heap_.size() - 1);
}

void TimerHeap::sift_up(std::size_t i) noexcept {
  Entry e = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / kArity;
    if (!(e.when < heap_[parent].when)) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerHeap::sift_down(std::size_t i) noexcept {
  Entry e = heap_[i];
  const std::size_t size = heap_.size();
  for (;;) {
    std::size_t first = i * kArity + 1;
    if (first >= size) break;
    std::size_t best = first;
    std::size_t last = std::min(first + kArity, size);
    for (std::size_t c = first + 1; c < last; ++c) {
      if (heap_[c].when < heap_[best].when) best = c;
    }
    if (!(heap_[best].when < e.when)) break;
    place(i, heap_[best]);
    i = best;
  }
  place(i, e);
}

void TimerHeap::erase_at(std::size_t i) noexcept {
  detail::TimerNode* victim = heap_[i].node;
  Entry last = heap_.back();
  heap_.pop_back();
  victim->heap_index_ = detail::TimerNode::kNotInHeap;
  if (i < heap_.size()) {
    place(i, last);
    if (i > 0 && last.when < heap_[(i - 1) / kArity].when) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }
}

detail::TimerNode* TimerHeap::pop() noexcept {
  if (heap_.empty()) return nullptr;
  detail::TimerNode* n = heap_[0].node;
  erase_at(0);
  return n;
}

void TimerHeap::remove(detail::TimerNode* node) noexcept {
  std::uint32_t i = node->heap_index_;
  if (i == detail::TimerNode::kNotInHeap || i >= heap_.size() || heap_[i].node != node) return;
  erase_at(i);
  node->release();
}

void TimerHeap::purge_cancelled() noexcept {
  std::size_t kept = 0;
  for (Entry& e : heap_) {
    if (e.node->cancelled()) {
      e.node->heap_index_ = detail::TimerNode::kNotInHeap;
      e.node->release();
    } else {
      heap_[kept++] = e;
    }
  }
  heap_.resize(kept);
  for (std::size_t i = 0; i < heap_.size(); ++i) place(i, heap_[i]);
  if (heap_.size() > 1) {
    for (std::size_t i = (heap_.size() - 2) / kArity + 1; i-- > 0;) sift_down(i);
  }
}

void TimerHeap::clear() noexcept {
  for (Entry& e : heap_) {
    e.node->heap_index_ = detail::TimerNode::kNotInHeap;
    e.node->release();
  }
  heap_.clear();
}

}  // namespace weft::io
