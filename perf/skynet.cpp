// skynet: a 10-ary task tree with 10^6 leaves (1,111,111 tasks); each node spawns its 10
// children as tasks and sums their results. Peer: tbb::task_group of the same shape.
// Reported: wall time per tree (and ns_per_op = per node).
//
// weft: one weft::Runner (in a WeftDriver) created once outside the timing loop; one run()
// per iteration.
// tbb: a task_arena of N slots created once; one arena.execute() per iteration.
#include <array>
#include <cstdint>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <weft/weft.hpp>

#include "common.hpp"

namespace {

constexpr int kFanout = 10;

std::int64_t leaves() { return weft_perf::smoke() ? 10'000 : 1'000'000; }
std::int64_t nodes(std::int64_t size) { return size == 1 ? 1 : 1 + kFanout * nodes(size / kFanout); }

weft::Coro<std::int64_t> skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) co_return num;
  const std::int64_t sub = size / kFanout;
  std::array<weft::Task<std::int64_t>, kFanout> kids;
  for (int i = 0; i < kFanout; ++i) kids[i] = weft::create_task(skynet(num + i * sub, sub));
  std::int64_t sum = 0;
  for (auto& k : kids) sum += co_await k;
  co_return sum;
}

std::int64_t skynet_tbb(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t sub = size / kFanout;
  std::array<std::int64_t, kFanout> r{};
  tbb::task_group g;
  for (int i = 0; i < kFanout; ++i) g.run([&r, i, num, sub] { r[i] = skynet_tbb(num + i * sub, sub); });
  g.wait();
  std::int64_t sum = 0;
  for (auto v : r) sum += v;
  return sum;
}

void weft_skynet(benchmark::State& state, int workers) {
  const std::int64_t n = leaves();
  const std::int64_t expect = n * (n - 1) / 2;
  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  weft_perf::Meter meter;
  for (auto _ : state) {
    std::int64_t r = 0;
    meter.time([&] { r = runner.run(skynet(0, n)); });
    if (r != expect) state.SkipWithError("skynet: wrong sum");
  }
  meter.report(state, nodes(n));
  runner.report(state);
}

void tbb_skynet(benchmark::State& state, int workers) {
  const std::int64_t n = leaves();
  const std::int64_t expect = n * (n - 1) / 2;
  tbb::task_arena arena(workers);
  arena.initialize();
  weft_perf::Meter meter;
  for (auto _ : state) {
    std::int64_t r = 0;
    meter.time([&] { r = arena.execute([&] { return skynet_tbb(0, n); }); });
    if (r != expect) state.SkipWithError("skynet: wrong sum");
  }
  meter.report(state, nodes(n));
}

const int registered = [] {
  weft_perf::register_workload("skynet", "weft", weft_skynet);
  weft_perf::register_workload("skynet", "tbb", tbb_skynet);
  return 0;
}();

}  // namespace
