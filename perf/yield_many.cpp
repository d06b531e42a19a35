// yield_many: 1,000 tasks each yield 1,000 times with co_await weft::sleep(0ms). Per-op = per
// yield (10^6 per iteration). No oneTBB peer (task_group has no yield).
//
// One weft::Runner (in a WeftDriver) created once outside the timing loop; one run() per
// iteration (common.hpp).
#include <chrono>
#include <cstdint>
#include <vector>

#include <weft/weft.hpp>

#include "common.hpp"

namespace {

using namespace std::chrono_literals;
using weft_perf::scaled;

constexpr std::int64_t kTasks = 1'000;

weft::Coro<void> yielder(std::int64_t yields) {
  for (std::int64_t i = 0; i < yields; ++i) co_await weft::sleep(0ms);
}

weft::Coro<void> yield_all(std::int64_t yields) {
  std::vector<weft::Task<>> tasks;
  tasks.reserve(kTasks);
  for (std::int64_t i = 0; i < kTasks; ++i) tasks.push_back(weft::create_task(yielder(yields)));
  for (auto& t : tasks) co_await t;
}

void weft_yield_many(benchmark::State& state, int workers) {
  const std::int64_t yields = scaled(1'000);
  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  weft_perf::Meter meter;
  for (auto _ : state) meter.time([&] { runner.run(yield_all(yields)); });
  meter.report(state, kTasks * yields);
  runner.report(state);
}

const int registered = [] {
  weft_perf::register_workload("yield_many", "weft", weft_yield_many);
  return 0;
}();

}  // namespace
