// A worker's bounded run queue: a ring of atomic slots that its owner pushes at the tail and
// pops at the head, and that thieves steal half of, also from the head.
//
// This is Chase & Lev's array deque ("Dynamic circular work-stealing deque", SPAA 2005) with
// the C11 memory orders of Lê et al. ("Correct and efficient work-stealing for weak memory
// models", PPoPP 2013), bounded, and with one change taken from Tokio's queue.rs: the owner takes
// from the head too, so its own order is FIFO. asyncio promises FIFO task steps; a LIFO owner
// starves the oldest tasks (a yield loop would never let the first yielder run again). Locality
// for a task just woken comes from the worker's LIFO slot instead.
//
// Handles say who may call what: Owner (the one worker) and Stealer (any thread).
//
// Invariants:
//   head_ and tail_ only grow (64-bit: no ABA). tail_ - head_ <= Capacity.
//   Slots in [head_, tail_) hold items. Only the owner writes slots, and only at tail_, and only
//   when tail_ - head_ < Capacity, so a slot a thief reads is overwritten only after head_ has
//   moved past it, in which case the thief's CAS on head_ fails and it discards what it read.
#pragma once

#include <cstddef>
#include <cstdint>

#include <weft/core/detail/atomic.hpp>

namespace weft::detail {

template <class T, std::size_t Capacity>
  requires(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0)
class WorkStealingRing {
  static constexpr std::uint64_t kMask = Capacity - 1;

 public:
  static constexpr std::size_t kCapacity = Capacity;

  WorkStealingRing() {
    for (auto& s : slots_) s.store(nullptr, memory_order_relaxed);
  }
  WorkStealingRing(const WorkStealingRing&) = delete;
  WorkStealingRing& operator=(const WorkStealingRing&) = delete;

  class Owner;
  class Stealer;

  // Approximate length; any thread.
  [[nodiscard]] std::size_t size() const noexcept {
    std::uint64_t h = head_.load(memory_order_acquire);
    std::uint64_t t = tail_.load(memory_order_acquire);
    return t > h ? static_cast<std::size_t>(t - h) : 0;
  }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

 private:
  alignas(kCacheLine) atomic<std::uint64_t> head_{0};  // owner and thieves (CAS)
  alignas(kCacheLine) atomic<std::uint64_t> tail_{0};  // owner only writes
  alignas(kCacheLine) atomic<T*> slots_[Capacity];
};

template <class T, std::size_t Capacity>
  requires(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0)
class WorkStealingRing<T, Capacity>::Owner {
 public:
  explicit Owner(WorkStealingRing& r) noexcept : r_(&r) {}

  // Pushes at the tail. When full, moves the older half plus `item` out through
  // overflow(T** items, size_t n) (to the global injection queue) in one batch.
  template <class Overflow>
  void push(T* item, Overflow&& overflow) {
    for (;;) {
      std::uint64_t t = r_->tail_.load(memory_order_relaxed);
      // acquire: pairs with the thieves' release CAS on head_ (their reads of the slots are
      // done before we may reuse them).
      std::uint64_t h = r_->head_.load(memory_order_acquire);
      if (t - h < Capacity) {
        r_->slots_[t & kMask].store(item, memory_order_relaxed);
        // release: pairs with the acquire loads of tail_ in pop/steal: the slot is visible
        // before the new tail.
        r_->tail_.store(t + 1, memory_order_release);
        return;
      }
      if (overflow_half(h, t, item, overflow)) return;
      // A thief moved head_: there is room again.
    }
  }

  // Pops the oldest item, or null.
  [[nodiscard]] T* pop() noexcept {
    std::uint64_t h = r_->head_.load(memory_order_acquire);
    for (;;) {
      std::uint64_t t = r_->tail_.load(memory_order_relaxed);
      if (h == t) return nullptr;
      T* item = r_->slots_[h & kMask].load(memory_order_relaxed);
      // acq_rel: claims slot h against thieves (their CAS on the same word).
      if (r_->head_.compare_exchange_weak(h, h + 1, memory_order_acq_rel,
                                          memory_order_acquire)) {
        return item;
      }
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return r_->size(); }

 private:
  template <class Overflow>
  bool overflow_half(std::uint64_t h, std::uint64_t t, T* item, Overflow& overflow) {
    constexpr std::uint64_t kHalf = Capacity / 2;
    T* batch[kHalf + 1];
    for (std::uint64_t i = 0; i < kHalf; ++i) {
      batch[i] = r_->slots_[(h + i) & kMask].load(memory_order_relaxed);
    }
    // acq_rel: claims [h, h + kHalf) exactly as pop() claims one slot.
    if (!r_->head_.compare_exchange_strong(h, h + kHalf, memory_order_acq_rel,
                                           memory_order_relaxed)) {
      return false;
    }
    (void)t;
    batch[kHalf] = item;
    overflow(batch, static_cast<std::size_t>(kHalf + 1));
    return true;
  }

  WorkStealingRing* r_;
};

template <class T, std::size_t Capacity>
  requires(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0)
class WorkStealingRing<T, Capacity>::Stealer {
 public:
  explicit Stealer(WorkStealingRing& r) noexcept : r_(&r) {}

  // Steals half (rounded up) of the victim's items: returns the first, and appends the rest
  // to `dst` (the thief's own ring, which must be empty). Returns null if there was nothing.
  [[nodiscard]] T* steal_into(WorkStealingRing& dst) noexcept {
    for (;;) {
      // acquire (both): we read slots below tail_ that the owner published with release.
      std::uint64_t h = r_->head_.load(memory_order_acquire);
      std::uint64_t t = r_->tail_.load(memory_order_acquire);
      if (t <= h) return nullptr;
      std::uint64_t n = t - h;
      if (n > Capacity) continue;  // torn read of a moving queue: retry
      n -= n / 2;
      std::uint64_t dt = dst.tail_.load(memory_order_relaxed);
      std::uint64_t dst_free = Capacity - (dt - dst.head_.load(memory_order_acquire));
      if (n - 1 > dst_free) n = dst_free + 1;
      // Copy first, then claim: the copies are only kept if the CAS says nobody else took or
      // overwrote those slots meanwhile (the invariant in the file comment).
      for (std::uint64_t i = 1; i < n; ++i) {
        dst.slots_[(dt + i - 1) & kMask].store(r_->slots_[(h + i) & kMask].load(memory_order_relaxed),
                                               memory_order_relaxed);
      }
      T* first = r_->slots_[h & kMask].load(memory_order_relaxed);
      // acq_rel: claims [h, h + n) against the owner's pop and other thieves.
      if (!r_->head_.compare_exchange_strong(h, h + n, memory_order_acq_rel,
                                             memory_order_relaxed)) {
        continue;
      }
      if (n > 1) {
        // release: publishes the copied slots to thieves of dst.
        dst.tail_.store(dt + n - 1, memory_order_release);
      }
      return first;
    }
  }

 private:
  WorkStealingRing* r_;
};

}  // namespace weft::detail
