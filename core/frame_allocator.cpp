#include <weft/core/detail/frame_allocator.hpp>

#include <new>

#include <weft/core/detail/atomic.hpp>

#if !defined(WEFT_ASAN) && !defined(WEFT_TSAN)
#define WEFT_FRAME_CACHE 1
#endif
#if defined(WEFT_FRAMES_TBBMALLOC) && defined(WEFT_FRAME_CACHE)
#include <tbb/scalable_allocator.h>
#define WEFT_BACKING_TBB 1
#endif

namespace weft::detail {

namespace {

constexpr std::size_t kGranule = 32;
constexpr std::size_t kClasses = 64;  // blocks up to 2 KiB are cached
constexpr std::size_t kMaxCachedPerClass = 4096;

// Behind the cache: oneTBB's scalable allocator when built with it (half of glibc's
// instructions per malloc+free for frame-sized blocks under callgrind, and no arena lock when a
// frame is freed on another thread), else operator new.
inline void* backing_alloc(std::size_t n) {
#if defined(WEFT_BACKING_TBB)
  if (void* p = scalable_malloc(n)) return p;
  throw std::bad_alloc();
#else
  return ::operator new(n);
#endif
}
inline void backing_free(void* p, std::size_t n) noexcept {
#if defined(WEFT_BACKING_TBB)
  (void)n;
  scalable_free(p);
#else
  ::operator delete(p, n);
#endif
}

struct FreeBlock {
  FreeBlock* next;
};

struct ThreadCache {
  FreeBlock* heads[kClasses] = {};
  std::size_t counts[kClasses] = {};
  ~ThreadCache() {
    for (std::size_t c = 0; c < kClasses; ++c) {
      for (FreeBlock* b = heads[c]; b;) {
        FreeBlock* next = b->next;
        backing_free(b, (c + 1) * kGranule);
        b = next;
      }
    }
  }
};

thread_local ThreadCache tl_cache;

inline std::size_t class_of(std::size_t n) noexcept { return (n - 1) / kGranule; }

}  // namespace

void* frame_alloc(std::size_t n) {
#if defined(WEFT_FRAME_CACHE)
  std::size_t c = class_of(n);
  if (c < kClasses) {
    ThreadCache& tc = tl_cache;
    if (FreeBlock* b = tc.heads[c]) {
      tc.heads[c] = b->next;
      --tc.counts[c];
      return b;
    }
    return backing_alloc((c + 1) * kGranule);
  }
#endif
  return backing_alloc(n);
}

void frame_free(void* p, std::size_t n) noexcept {
#if defined(WEFT_FRAME_CACHE)
  std::size_t c = class_of(n);
  if (c < kClasses) {
    ThreadCache& tc = tl_cache;
    if (tc.counts[c] < kMaxCachedPerClass) {
      auto* b = static_cast<FreeBlock*>(p);
      b->next = tc.heads[c];
      tc.heads[c] = b;
      ++tc.counts[c];
      return;
    }
    backing_free(p, (c + 1) * kGranule);
    return;
  }
#endif
  backing_free(p, n);
}

}  // namespace weft::detail
