#include <weft/core/detail/frame_allocator.hpp>

#include <mutex>
#include <new>

#include <weft/core/detail/atomic.hpp>

#if !defined(WEFT_ASAN) && !defined(WEFT_TSAN)
#define WEFT_FRAME_CACHE 1
#endif

namespace weft::detail {

#if defined(WEFT_FRAME_CACHE)
namespace {

constexpr std::size_t kGranule = 32;
constexpr std::size_t kClasses = 64;  // blocks up to 2 KiB are cached
// A thread keeps up to kLocalMax blocks of a class; past that it hands kBatch of them to the
// central list, where any thread that runs dry picks them up (tcmalloc's thread cache / central
// free list split). This is what keeps the producer-on-one-worker, consumer-on-another pattern
// from growing one thread's cache without bound while the other keeps allocating.
constexpr std::size_t kLocalMax = 512;
constexpr std::size_t kBatch = 256;

struct FreeBlock {
  FreeBlock* next;
};

// A singly linked chain of kBatch blocks, threaded through the blocks' first words; batches are
// linked through the second word of their first block.
struct Central {
  SpinLock lock;
  // Written under lock; the relaxed load in refill() is only a peek to skip the lock.
  atomic<FreeBlock*> batches{nullptr};
};
Central g_central[kClasses];

inline FreeBlock*& next_batch(FreeBlock* batch_head) noexcept {
  return reinterpret_cast<FreeBlock**>(batch_head)[1];
}

struct ThreadCache {
  FreeBlock* heads[kClasses] = {};
  std::size_t counts[kClasses] = {};
  ~ThreadCache() {
    // A thread's blocks outlive it: give them to the central lists.
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (counts[c] > 0) flush(c, counts[c] < kBatch ? counts[c] : kBatch);
    }
  }
  void flush(std::size_t c, std::size_t n) noexcept {
    FreeBlock* first = heads[c];
    FreeBlock* last = first;
    for (std::size_t i = 1; i < n; ++i) last = last->next;
    heads[c] = last->next;
    counts[c] -= n;
    last->next = nullptr;
    Central& central = g_central[c];
    central.lock.lock();
    next_batch(first) = central.batches.load(memory_order_relaxed);
    central.batches.store(first, memory_order_relaxed);
    central.lock.unlock();
  }
  bool refill(std::size_t c) noexcept {
    Central& central = g_central[c];
    if (central.batches.load(memory_order_relaxed) == nullptr) return false;  // peek
    central.lock.lock();
    FreeBlock* batch = central.batches.load(memory_order_relaxed);
    if (batch) central.batches.store(next_batch(batch), memory_order_relaxed);
    central.lock.unlock();
    if (!batch) return false;
    std::size_t n = 0;
    FreeBlock* last = batch;
    for (; last->next; last = last->next) ++n;
    last->next = heads[c];
    heads[c] = batch;
    counts[c] += n + 1;
    return true;
  }
};

thread_local ThreadCache tl_cache;

inline std::size_t class_of(std::size_t n) noexcept { return (n - 1) / kGranule; }

}  // namespace
#endif

void* frame_alloc(std::size_t n) {
#if defined(WEFT_FRAME_CACHE)
  std::size_t c = class_of(n);
  if (c < kClasses) {
    ThreadCache& tc = tl_cache;
    if (tc.heads[c] == nullptr && !tc.refill(c)) return ::operator new((c + 1) * kGranule);
    FreeBlock* b = tc.heads[c];
    tc.heads[c] = b->next;
    --tc.counts[c];
    return b;
  }
#endif
  return ::operator new(n);
}

void frame_free(void* p, std::size_t n) noexcept {
#if defined(WEFT_FRAME_CACHE)
  std::size_t c = class_of(n);
  if (c < kClasses) {
    ThreadCache& tc = tl_cache;
    auto* b = static_cast<FreeBlock*>(p);
    b->next = tc.heads[c];
    tc.heads[c] = b;
    if (++tc.counts[c] > kLocalMax) tc.flush(c, kBatch);
    return;
  }
#endif
  ::operator delete(p, n);
}

}  // namespace weft::detail
