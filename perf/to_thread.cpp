// to_thread: 100,000 trivial weft::to_thread calls with 1,000 in flight (1,000 tasks, each
// making 100 sequential calls). Per-op = per call (executor submit + run on a pool thread +
// Future set across threads + wake). The default executor is the bounded ThreadPoolExecutor
// (min(32, cores + 4) threads). No oneTBB peer.
//
// One weft::Runner (in a WeftDriver) created once outside the timing loop; one run() per
// iteration. The pool's
// threads start on first use, so the first iteration pays for them; later ones find them
// alive (their idle timeout is 10 s).
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <weft/weft.hpp>

#include "common.hpp"

namespace {

using weft_perf::scaled;

constexpr std::int64_t kInFlight = 1'000;

weft::Coro<void> caller(std::int64_t calls) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < calls; ++i) sum += co_await weft::to_thread([] { return 1; });
  if (sum != calls) throw std::logic_error("to_thread: wrong sum");
}

weft::Coro<void> call_all(std::int64_t calls) {
  std::vector<weft::Task<>> tasks;
  tasks.reserve(kInFlight);
  for (std::int64_t i = 0; i < kInFlight; ++i) tasks.push_back(weft::create_task(caller(calls)));
  for (auto& t : tasks) co_await t;
}

void weft_to_thread(benchmark::State& state, int workers) {
  const std::int64_t calls = scaled(100);
  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  weft_perf::Meter meter;
  for (auto _ : state) meter.time([&] { runner.run(call_all(calls)); });
  meter.report(state, kInFlight * calls);
  runner.report(state);
}

const int registered = [] {
  weft_perf::register_workload("to_thread", "weft", weft_to_thread);
  return 0;
}();

}  // namespace
