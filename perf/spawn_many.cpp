// spawn_many: one task creates 10^6 empty tasks, then awaits them all. Per-op = per task
// (create + schedule + run + finish + await). Peer: a tbb::task_group running 10^6 empty
// tasks, then wait().
//
// One weft::Runner (in a WeftDriver) created once outside the timing loop; one run() per
// iteration (common.hpp).
#include <cstdint>
#include <vector>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <weft/weft.hpp>

#include "common.hpp"

namespace {

using weft_perf::scaled;

weft::Coro<void> empty() { co_return; }

weft::Coro<void> spawn_all(std::int64_t n) {
  std::vector<weft::Task<>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) tasks.push_back(weft::create_task(empty()));
  for (auto& t : tasks) co_await t;
}

void weft_spawn_many(benchmark::State& state, int workers) {
  const std::int64_t n = scaled(1'000'000);
  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  weft_perf::Meter meter;
  for (auto _ : state) meter.time([&] { runner.run(spawn_all(n)); });
  meter.report(state, n);
  runner.report(state);
}

void tbb_spawn_many(benchmark::State& state, int workers) {
  const std::int64_t n = scaled(1'000'000);
  tbb::task_arena arena(workers);
  arena.initialize();
  weft_perf::Meter meter;
  for (auto _ : state) {
    meter.time([&] {
      arena.execute([&] {
        tbb::task_group g;
        for (std::int64_t i = 0; i < n; ++i) g.run([] {});
        g.wait();
      });
    });
  }
  meter.report(state, n);
}

const int registered = [] {
  weft_perf::register_workload("spawn_many", "weft", weft_spawn_many);
  weft_perf::register_workload("spawn_many", "tbb", tbb_spawn_many);
  return 0;
}();

}  // namespace
