// weft_demo: asyncio's model on every core, in four short steps.
//
//   1. 1000 tasks that each sleep, awaited one after another (gather by hand): the sleeps overlap,
//      so the whole batch takes about as long as the longest sleep, not the sum.
//   2. A blocking call handed to to_thread() while a ticker task keeps running on the loops.
//   3. A CPU-bound step (a oneTBB parallel_reduce) on the CpuExecutor via run_in_executor().
//   4. Which worker ran what: the loop index each task saw before and after its sleep (tasks
//      migrate between workers), and the runtime's per-worker metrics.
//
// Usage: weft_demo [workers]   (default: one per core)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>
#include <weft/scheduler/cpu_executor.hpp>
#include <weft/weft.hpp>

using namespace std::chrono_literals;
using Ms = std::chrono::duration<double, std::milli>;

namespace {

constexpr int kTasks = 1000;

// Where each sleeper started and where it woke up: one slot per task, written by that task only.
struct Placement {
  std::vector<std::size_t> started = std::vector<std::size_t>(kTasks);
  std::vector<std::size_t> resumed = std::vector<std::size_t>(kTasks);
};

// Arguments by value: a coroutine's frame keeps its own copies (never capture by reference in
// a coroutine that may outlive the caller's locals).
weft::Coro<int> sleeper(int i, Placement* where) {
  where->started[i] = weft::get_running_loop().index();
  co_await weft::sleep(std::chrono::milliseconds(1 + i % 20));
  where->resumed[i] = weft::get_running_loop().index();
  co_return i;
}

weft::Coro<void> ticker(std::atomic<int>* ticks) {
  for (;;) {
    co_await weft::sleep(5ms);
    ticks->fetch_add(1, std::memory_order_relaxed);
  }
}

// A blocking call: it would stall a loop if called from a task directly.
std::string blocking_lookup(const std::string& key) {
  std::this_thread::sleep_for(100ms);
  return key + "=42";
}

// CPU-bound: a parallel reduction that oneTBB spreads over the CpuExecutor's arena.
double sum_of_roots(long n) {
  return tbb::parallel_reduce(
      tbb::blocked_range<long>(1, n + 1), 0.0,
      [](const tbb::blocked_range<long>& r, double acc) {
        for (long k = r.begin(); k != r.end(); ++k) acc += std::sqrt(static_cast<double>(k));
        return acc;
      },
      [](double a, double b) { return a + b; });
}

std::string per_worker(const std::vector<std::size_t>& counts) {
  std::string s;
  char cell[48];
  for (std::size_t w = 0; w < counts.size(); ++w) {
    std::snprintf(cell, sizeof cell, "%sw%zu:%zu", w ? "  " : "", w, counts[w]);
    s += cell;
  }
  return s;
}

weft::Coro<int> demo(std::size_t workers, weft::CpuExecutor* cpu) {
  // 1. Many tasks, many sleeps, awaited like gather().
  Placement where;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<weft::Task<int>> tasks;
  tasks.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) tasks.push_back(weft::create_task(sleeper(i, &where)));
  long sum = 0;
  for (auto& t : tasks) sum += co_await t;
  double batch_ms = Ms(std::chrono::steady_clock::now() - t0).count();
  std::printf("1. %d tasks slept 1-20 ms each: done in %.0f ms (sequential: ~10500 ms), sum %ld\n",
              kTasks, batch_ms, sum);

  std::vector<std::size_t> started(workers), resumed(workers);
  int migrated = 0;
  for (int i = 0; i < kTasks; ++i) {
    ++started[where.started[i]];
    ++resumed[where.resumed[i]];
    migrated += where.started[i] != where.resumed[i];
  }

  // 2. A blocking call on the thread pool; the loops stay free for the ticker meanwhile.
  std::atomic<int> ticks{0};
  weft::Task<> tick = weft::create_task(ticker(&ticks), {.name = "ticker"});
  t0 = std::chrono::steady_clock::now();
  // The key is named, not a temporary inside the co_await expression (g++ 12 destroys such
  // temporaries twice; see docs/compilers.md).
  const std::string key = "answer";
  std::string answer = co_await weft::to_thread(blocking_lookup, key);
  double blocking_ms = Ms(std::chrono::steady_clock::now() - t0).count();
  tick.cancel();
  try {
    co_await tick;
  } catch (const weft::CancelledError&) {
  }
  std::printf("2. to_thread(blocking_lookup) -> \"%s\" in %.0f ms; the ticker ticked %d times "
              "meanwhile, then was cancelled\n",
              answer.c_str(), blocking_ms, ticks.load());

  // 3. CPU-bound work on the oneTBB arena, awaited like any future.
  constexpr long kN = 20'000'000;
  t0 = std::chrono::steady_clock::now();
  double roots = co_await weft::run_in_executor(*cpu, sum_of_roots, kN);
  double cpu_ms = Ms(std::chrono::steady_clock::now() - t0).count();
  std::printf("3. run_in_executor(cpu, sum_of_roots) -> sum sqrt(1..%ld) = %.4g in %.0f ms\n", kN,
              roots, cpu_ms);

  // 4. Who ran what.
  std::printf("4. sleepers started on   %s\n", per_worker(started).c_str());
  std::printf("   sleepers resumed on   %s  (%d woke on another worker)\n",
              per_worker(resumed).c_str(), migrated);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t workers = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 0;
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  std::printf("weft demo: %zu worker loop%s\n", workers, workers == 1 ? "" : "s");

  weft::CpuExecutor cpu;
  weft::Runner runner({.workers = workers});
  int rc = runner.run(demo(workers, &cpu));

  std::printf("   per-worker metrics:\n");
  std::printf("     %-6s %10s %10s %8s %8s %8s %8s\n", "worker", "task-steps", "callbacks",
              "steals", "stolen", "parks", "timers");
  auto metrics = runner.runtime().metrics();
  for (std::size_t w = 0; w < metrics.size(); ++w) {
    const weft::WorkerMetrics& m = metrics[w];
    std::printf("     w%-5zu %10llu %10llu %8llu %8llu %8llu %8llu\n", w,
                static_cast<unsigned long long>(m.tasks_run),
                static_cast<unsigned long long>(m.callbacks_run),
                static_cast<unsigned long long>(m.steals), static_cast<unsigned long long>(m.stolen),
                static_cast<unsigned long long>(m.parks),
                static_cast<unsigned long long>(m.timers_fired));
  }
  runner.close();
  cpu.shutdown();
  return rc;
}
