// Coroutine frame allocation: a per-thread cache of freed blocks in 32-byte size classes, in
// front of operator new.
//
// Spawning a task costs one allocation (frame + task header); with many tasks alive at once
// glibc's tcache (7 blocks per size) runs dry and every spawn and finish goes through
// _int_malloc/_int_free: ~25% of spawn_many's instructions in a callgrind profile. A block freed
// on any thread goes to that thread's cache (blocks of one class are interchangeable), up to a
// bound per class, past which it returns to operator delete; a thread's cache is released when
// the thread exits. Under AddressSanitizer and ThreadSanitizer both the cache and tbbmalloc are
// off: the sanitizers must see every allocation (use-after-free; memory reused across threads).
#pragma once

#include <cstddef>

namespace weft::detail {

void* frame_alloc(std::size_t n);
void frame_free(void* p, std::size_t n) noexcept;

}  // namespace weft::detail
