// call_soon_threadsafe: one foreign std::thread posts 10^6 callbacks to a running loop with
// loop.call_soon_threadsafe while the main task awaits a Future that the last callback to run
// sets. Per-op = per callback (post + inbox + run). No oneTBB peer.
//
// Callbacks are pinned to the loop they are posted to (never stolen), so a plain counter on
// that loop finds the last one to run. The poster thread's start-up (~tens of µs)
// is inside the timing: noise against 10^6 posts.
//
// One weft::Runner (in a WeftDriver) created once outside the timing loop; one run() per
// iteration (common.hpp).
#include <cstdint>
#include <thread>

#include <weft/weft.hpp>

#include "common.hpp"

namespace {

using weft_perf::scaled;

struct Countdown {
  std::int64_t left;  // loop 0's thread only
  weft::Future<void> done;
};

weft::Coro<void> post_all(std::int64_t n) {
  weft::EventLoop& loop = weft::get_running_loop();
  Countdown c{n, weft::Future<void>::create()};
  std::thread poster([&loop, &c, n] {
    for (std::int64_t i = 0; i < n; ++i) {
      (void)loop.call_soon_threadsafe([&c] {
        if (--c.left == 0) c.done.set_result();
      });
    }
  });
  co_await c.done;
  poster.join();  // it is past its last post already
}

void weft_call_soon_threadsafe(benchmark::State& state, int workers) {
  const std::int64_t n = scaled(1'000'000);
  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  weft_perf::Meter meter;
  for (auto _ : state) meter.time([&] { runner.run(post_all(n)); });
  meter.report(state, n);
  runner.report(state);
}

const int registered = [] {
  weft_perf::register_workload("call_soon_threadsafe", "weft", weft_call_soon_threadsafe);
  return 0;
}();

}  // namespace
