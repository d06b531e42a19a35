// The one seam for atomics, cache-line constants and the tiny locks weft uses.
//
// Every concurrent structure in weft takes its atomics, padding and spin locks from here, so
// sanitizer annotations or a model checker can be introduced in one place (tokio's loom/mod.rs
// idea). Nothing here allocates or makes a syscall.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif

namespace weft::detail {

using std::atomic;
using std::memory_order_acq_rel;
using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;
using std::memory_order_seq_cst;

// 64 on every x86-64 and most ARM cores; adjacent-line prefetch makes 128 safer for the few
// hottest fields, which pad explicitly.
inline constexpr std::size_t kCacheLine = 64;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// A test-and-test-and-set lock for critical sections of a few instructions (a future's waiter
// list, a task's current await). After a short spin it yields the CPU: on a 2-core machine the
// holder may have been preempted, and spinning then only burns its time slice.
class SpinLock {
 public:
  void lock() noexcept {
    // acquire: pairs with the release in unlock().
    if (!locked_.exchange(true, memory_order_acquire)) return;
    lock_slow();
  }
  [[nodiscard]] bool try_lock() noexcept {
    return !locked_.load(memory_order_relaxed) && !locked_.exchange(true, memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, memory_order_release); }

 private:
  void lock_slow() noexcept {
    for (unsigned spins = 0;; ++spins) {
      while (locked_.load(memory_order_relaxed)) {
        if (spins++ < 64) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
      if (!locked_.exchange(true, memory_order_acquire)) return;
    }
  }
  atomic<bool> locked_{false};
};

// A counter written only by its owning thread and read (relaxed) by anyone: a plain
// load+store instead of a locked read-modify-write.
class OwnerCounter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(memory_order_relaxed) + n, memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return value_.load(memory_order_relaxed); }

 private:
  atomic<std::uint64_t> value_{0};
};

}  // namespace weft::detail
