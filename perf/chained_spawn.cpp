// chained_spawn: 100,000 tasks, each creating the next; the last sets a Future the main task
// awaits. Per-op = per task. No handle is awaited along the chain (as Tokio's chained_spawn),
// so the chain costs one live task at a time. No oneTBB peer.
//
// One weft::Runner (in a WeftDriver) created once outside the timing loop; one run() per
// iteration (common.hpp).
#include <cstdint>

#include <weft/weft.hpp>

#include "common.hpp"

namespace {

using weft_perf::scaled;

weft::Coro<void> link(std::int64_t left, weft::Future<void> done) {
  if (left == 0) {
    done.set_result();
  } else {
    // The Task handle is dropped at once: the task runs whether or not a handle is kept.
    (void)weft::create_task(link(left - 1, std::move(done)));
  }
  co_return;
}

weft::Coro<void> chain(std::int64_t n) {
  auto done = weft::Future<void>::create();
  (void)weft::create_task(link(n - 1, done));
  co_await done;
}

void weft_chained_spawn(benchmark::State& state, int workers) {
  const std::int64_t n = scaled(100'000);
  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  weft_perf::Meter meter;
  for (auto _ : state) meter.time([&] { runner.run(chain(n)); });
  meter.report(state, n);
  runner.report(state);
}

const int registered = [] {
  weft_perf::register_workload("chained_spawn", "weft", weft_chained_spawn);
  return 0;
}();

}  // namespace
