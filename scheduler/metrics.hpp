// Per-worker counters, kept from day one: each worker bumps its own (relaxed, on its own cache
// line, no locked instruction) and anyone can read a snapshot.
#pragma once

#include <cstdint>
#include <vector>

#include <weft/core/detail/atomic.hpp>

namespace weft {

// A copy of one worker's counters at some instant.
struct WorkerMetrics {
  std::uint64_t tasks_run = 0;      // task steps executed
  std::uint64_t callbacks_run = 0;  // call_soon / timer / done callbacks executed
  std::uint64_t steals = 0;         // successful steal operations
  std::uint64_t stolen = 0;         // tasks moved in by those steals
  std::uint64_t parks = 0;          // times the worker blocked in its reactor
  std::uint64_t inbox_pops = 0;     // items taken from its call_soon_threadsafe inbox
  std::uint64_t polls = 0;          // reactor polls (blocking or not)
  std::uint64_t overflows = 0;      // ring-full batches pushed to the global queue
  std::uint64_t timers_fired = 0;
};

namespace detail {

struct alignas(kCacheLine) WorkerCounters {
  OwnerCounter tasks_run, callbacks_run, steals, stolen, parks, inbox_pops, polls, overflows,
      timers_fired;

  [[nodiscard]] WorkerMetrics snapshot() const noexcept {
    return {tasks_run.get(), callbacks_run.get(), steals.get(), stolen.get(),  parks.get(),
            inbox_pops.get(), polls.get(),         overflows.get(), timers_fired.get()};
  }
};

}  // namespace detail
}  // namespace weft
