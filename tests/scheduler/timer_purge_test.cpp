// Timers cancelled from another thread do not stay in their loop's heap until their deadline:
// once such cancellations reach half the heap, the loop sweeps them (EventLoop::fire_timers).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;

struct Probe {
  std::atomic<int>* destroyed;
  explicit Probe(std::atomic<int>* d) : destroyed(d) {}
  Probe(Probe&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
  Probe(const Probe&) = delete;
  ~Probe() {
    if (destroyed) destroyed->fetch_add(1);
  }
};

TEST(TimerPurge, TimersCancelledFromAnotherThreadAreSweptLongBeforeTheirDeadline) {
  constexpr int kTimers = 4096;
  std::atomic<int> destroyed{0};
  std::atomic<int> ran{0};
  weft::run(
      [&]() -> weft::Coro<void> {
        weft::EventLoop& loop = weft::get_running_loop();
        // A live timer due before the cancelled ones keeps them away from the top of the heap,
        // where lazy removal would drop them anyway.
        weft::TimerHandle live = loop.call_later(30min, [&ran] { ran.fetch_add(1); });
        std::vector<weft::TimerHandle> handles;
        handles.reserve(kTimers);
        for (int i = 0; i < kTimers; ++i) {
          handles.push_back(loop.call_later(1h, [&ran, p = Probe(&destroyed)] { ran.fetch_add(1); }));
        }
        std::thread canceller([&] {
          for (auto& h : handles) h.cancel();
        });
        canceller.join();
        handles.clear();  // only the heap holds the nodes now
        EXPECT_EQ(destroyed.load(), 0);
        // A few loop iterations with a live timer make the loop look at its heap.
        for (int i = 0; i < 3 && destroyed.load() < kTimers; ++i) co_await weft::sleep(1ms);
        EXPECT_EQ(destroyed.load(), kTimers);
        live.cancel();
      }(),
      {.workers = 1});
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
