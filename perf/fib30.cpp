// fib30: fork-join fib(30). Each call with n >= 2 creates a task for fib(n-1), computes
// fib(n-2) inline (awaiting a Coro: symmetric transfer, no scheduler round trip), then awaits
// the task. Peer: tbb::task_group of the same shape (run fib(n-1), compute fib(n-2), wait).
// Reported: wall time per fib(30) (and ns_per_op = per fib call, 2,692,537 calls).
//
// weft: one weft::Runner (in a WeftDriver) created once outside the timing loop; one run()
// per iteration.
// tbb: a task_arena of N slots created once; one arena.execute() per iteration.
#include <cstdint>
#include <stdexcept>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <weft/weft.hpp>

#include "common.hpp"

namespace {

int fib_n() { return weft_perf::smoke() ? 20 : 30; }

std::int64_t fib_serial(int n) { return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2); }
// Calls made by fib(n) in this shape: calls(n) = 1 + calls(n-1) + calls(n-2).
std::int64_t fib_calls(int n) { return n < 2 ? 1 : 1 + fib_calls(n - 1) + fib_calls(n - 2); }

weft::Coro<std::int64_t> fib(int n) {
  if (n < 2) co_return n;
  weft::Task<std::int64_t> t = weft::create_task(fib(n - 1));
  std::int64_t b = co_await fib(n - 2);
  std::int64_t a = co_await t;
  co_return a + b;
}

std::int64_t fib_tbb(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  tbb::task_group g;
  g.run([&] { a = fib_tbb(n - 1); });
  std::int64_t b = fib_tbb(n - 2);
  g.wait();
  return a + b;
}

void weft_fib(benchmark::State& state, int workers) {
  const int n = fib_n();
  const std::int64_t expect = fib_serial(n);
  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  weft_perf::Meter meter;
  for (auto _ : state) {
    std::int64_t r = 0;
    meter.time([&] { r = runner.run(fib(n)); });
    if (r != expect) state.SkipWithError("fib: wrong result");
  }
  meter.report(state, fib_calls(n));
  runner.report(state);
}

void tbb_fib(benchmark::State& state, int workers) {
  const int n = fib_n();
  const std::int64_t expect = fib_serial(n);
  tbb::task_arena arena(workers);
  arena.initialize();
  weft_perf::Meter meter;
  for (auto _ : state) {
    std::int64_t r = 0;
    meter.time([&] { r = arena.execute([&] { return fib_tbb(n); }); });
    if (r != expect) state.SkipWithError("fib: wrong result");
  }
  meter.report(state, fib_calls(n));
}

const int registered = [] {
  weft_perf::register_workload("fib30", "weft", weft_fib);
  weft_perf::register_workload("fib30", "tbb", tbb_fib);
  return 0;
}();

}  // namespace
