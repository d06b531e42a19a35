// Allocation for coroutine frames and the small nodes of the hot paths (callbacks, timers,
// futures): per-thread caches in 32-byte size classes over central free lists, over operator
// new. Memory is kept for reuse, never returned to the system: a runtime's frame memory stays at
// its peak.
//
// Why: spawning a task is one allocation, and with many tasks alive at once the system
// allocator hands freed frame memory back to the kernel and faults it in again on the next
// burst. On spawn_many (10^6 live tasks) 75% of the time went to page faults (56k minor faults
// per run); keeping the blocks makes a run ~6x faster (docs/performance.md). oneTBB's scalable
// allocator was measured in this role too: fewer instructions than glibc but it unmaps even more
// eagerly, so it was slower in wall time.
//
// Blocks are interchangeable within a class: a block freed on any thread goes to that thread's
// cache; a cache past kLocalMax blocks moves a batch to the class's central list, which threads
// that run dry refill from (tcmalloc's split), so a producer/consumer pair across threads does
// not grow one cache without bound. Under AddressSanitizer and ThreadSanitizer the caches are
// off: the sanitizers must see every allocation (use-after-free; memory reused across threads).
#pragma once

#include <cstddef>

namespace weft::detail {

void* frame_alloc(std::size_t n);
void frame_free(void* p, std::size_t n) noexcept;

// For small node types: class-level operator new/delete through the frame allocator.
struct PooledAlloc {
  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }
};

}  // namespace weft::detail
