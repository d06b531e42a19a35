// timers: 100,000 tasks each sleep a random 1–100 ms (seeded, the same draws every iteration).
// Reported: wall time, and counters mean_overshoot_us / p99_overshoot_us / max_overshoot_us,
// where overshoot = actual wake time − requested deadline, both on std::chrono::steady_clock,
// measured inside each task (deadline = now() just before the sleep + the delay). The counters
// cover every task of every iteration. No oneTBB peer.
//
// Diagnostics: start_burst_ms is how long after run() began the last task made its first step
// (its sleep call): until then wakes queue behind first steps. mean_overshoot_late_us is the
// mean over the tasks whose deadline falls after that burst (the timer path alone).
//
// One weft::Runner (in a WeftDriver) created once outside the timing loop; one run() per
// iteration (common.hpp).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include <weft/weft.hpp>

#include "common.hpp"

namespace {

using weft_perf::scaled;
using weft_perf::WallClock;

constexpr std::uint32_t kSeed = 20240601;

struct Sample {
  WallClock::time_point start;     // first step (just before the sleep)
  WallClock::time_point deadline;  // start + delay
  double overshoot_ns = 0;
};

weft::Coro<void> sleeper(int delay_ms, Sample* s) {
  const auto delay = std::chrono::milliseconds(delay_ms);
  s->start = WallClock::now();
  s->deadline = s->start + delay;
  co_await weft::sleep(delay);
  s->overshoot_ns = std::chrono::duration<double, std::nano>(WallClock::now() - s->deadline).count();
}

weft::Coro<void> sleep_all(const std::vector<int>* delays, Sample* samples) {
  std::vector<weft::Task<>> tasks;
  tasks.reserve(delays->size());
  for (std::size_t i = 0; i < delays->size(); ++i) {
    tasks.push_back(weft::create_task(sleeper((*delays)[i], &samples[i])));
  }
  for (auto& t : tasks) co_await t;
}

void weft_timers(benchmark::State& state, int workers) {
  const auto n = static_cast<std::size_t>(scaled(100'000));
  std::vector<int> delays(n);
  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<int> dist(1, 100);
  for (auto& d : delays) d = dist(rng);

  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  std::vector<double> all;  // overshoot of every task of every iteration, ns
  double late_sum = 0, burst_ms_sum = 0;
  std::size_t late_n = 0;
  std::vector<Sample> samples(n);
  for (auto _ : state) {
    const auto t0 = WallClock::now();
    runner.run(sleep_all(&delays, samples.data()));
    // Bookkeeping (~1 ms) inside the timed loop: PauseTiming costs more than it saves here.
    WallClock::time_point burst_end = t0;
    for (const Sample& s : samples) burst_end = std::max(burst_end, s.start);
    burst_ms_sum += std::chrono::duration<double, std::milli>(burst_end - t0).count();
    for (const Sample& s : samples) {
      all.push_back(s.overshoot_ns);
      if (s.deadline > burst_end) {
        late_sum += s.overshoot_ns;
        ++late_n;
      }
    }
  }
  runner.report(state);
  if (all.empty()) return;
  state.counters["start_burst_ms"] = burst_ms_sum / static_cast<double>(state.iterations());
  if (late_n > 0) state.counters["mean_overshoot_late_us"] = late_sum / static_cast<double>(late_n) / 1e3;
  std::sort(all.begin(), all.end());
  const double mean = std::accumulate(all.begin(), all.end(), 0.0) / static_cast<double>(all.size());
  const double p99 = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  state.counters["mean_overshoot_us"] = mean / 1e3;
  state.counters["p99_overshoot_us"] = p99 / 1e3;
  state.counters["max_overshoot_us"] = all.back() / 1e3;
}

const int registered = [] {
  weft_perf::register_workload("timers", "weft", weft_timers);
  return 0;
}();

}  // namespace
