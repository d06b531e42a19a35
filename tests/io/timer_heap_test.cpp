// TimerHeap: pops in deadline order, removes from any position, keeps node indices right.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include <weft/core/handle.hpp>
#include <weft/io/timer_heap.hpp>

namespace {

using weft::Clock;
using weft::detail::TimerNode;

TimerNode* make_node(Clock::time_point when) {
  // Two references: the heap's and the test's.
  auto* n = weft::detail::make_callback<TimerNode>(nullptr, 2, [] {});
  n->when_ = when;
  return n;
}

TEST(TimerHeap, PopsInDeadlineOrderAfterRandomRemovals) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay(0, 1'000'000);
  const Clock::time_point base{};
  weft::io::TimerHeap heap;
  std::vector<TimerNode*> nodes;
  for (int i = 0; i < 20'000; ++i) {
    TimerNode* n = make_node(base + std::chrono::microseconds(delay(rng)));
    heap.push(n);
    nodes.push_back(n);
  }
  // Remove every third node from wherever it sits.
  std::vector<TimerNode*> kept;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (i % 3 == 0) {
      heap.remove(nodes[i]);  // drops the heap's reference
      EXPECT_EQ(nodes[i]->heap_index_, TimerNode::kNotInHeap);
      nodes[i]->release();
    } else {
      kept.push_back(nodes[i]);
    }
  }
  ASSERT_EQ(heap.size(), kept.size());
  std::vector<Clock::time_point> popped;
  while (TimerNode* n = heap.pop()) {
    popped.push_back(n->when_);
    n->release();  // the heap's reference, handed to us by pop()
  }
  EXPECT_TRUE(std::is_sorted(popped.begin(), popped.end()));
  EXPECT_EQ(popped.size(), kept.size());
  for (TimerNode* n : kept) n->release();
}

TEST(TimerHeap, PurgeCancelledKeepsTheRestOrdered) {
  weft::io::TimerHeap heap;
  std::vector<TimerNode*> nodes;
  for (int i = 0; i < 1'000; ++i) {
    TimerNode* n = make_node(Clock::time_point{} + std::chrono::milliseconds((i * 7919) % 1000));
    heap.push(n);
    nodes.push_back(n);
  }
  for (std::size_t i = 0; i < nodes.size(); i += 2) EXPECT_TRUE(nodes[i]->cancel());
  heap.purge_cancelled();
  EXPECT_EQ(heap.size(), nodes.size() / 2);
  Clock::time_point last{};
  while (TimerNode* n = heap.pop()) {
    EXPECT_FALSE(n->cancelled());
    EXPECT_LE(last, n->when_);
    last = n->when_;
    n->release();
  }
  for (TimerNode* n : nodes) n->release();
}

}  // namespace
