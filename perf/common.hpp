// Shared by every weft_perf workload: problem sizes, worker counts, registration and counters.
//
// Names are <workload>/<runtime>/workers:<N>, runtime "weft" or "tbb" (Google Benchmark appends
// "/real_time" because of UseRealTime(); filter on the prefix). N runs over kWorkerCounts,
// skipping any N above std::thread::hardware_concurrency(), so one binary serves a 2-core laptop
// and a 16-core box. Workloads register weft then tbb for each N, so peers run back to back in
// one process (add --benchmark_enable_random_interleaving=true to spread repetitions in time).
//
// Timing: a weft benchmark builds one weft::Runner (or a tbb::task_arena) OUTSIDE the timing
// loop and runs one runner.run(main) per iteration, so thread start-up is not measured; each
// iteration's wall time is measured around runner.run() and ns_per_op = total wall ns /
// (iterations * ops). Benchmarks use UseRealTime(): the time column is wall time.
//
// Counters: ns_per_op (wall), cpu_ns_per_op (process CPU, all threads), faults_per_kop (see
// Meter); WEFT_PERF_METRICS=1 adds the runtime's WorkerMetrics per iteration (m_*).
//
// WEFT_PERF_SMOKE=1 shrinks every workload ~100× (scaled(); fib30 runs fib(20), skynet 10^4
// leaves, ping_pong 10 rounds): the ctest smoke run.
//
// WeftDriver detects a lost wake-up at the end of Runtime::run with 2+ workers (found by these
// benchmarks and fixed since, see docs/performance.md: park() now re-checks the stop flag after
// publishing parked_). The bug was: when the main task finished on another worker while worker
// 0 was between run_until's stop check and its reactor wait, StopWhenDone's wake() found
// parked_ still false and skipped the eventfd write, so worker 0 slept in epoll_wait(-1) for
// good. The guard stays as a regression detector (expected count: 0). It watches each
// run whose main coroutine has finished: if the thread that finished it and worker 0's thread
// are both asleep (state S in /proc, so neither is merely preempted) on two looks kPoll apart,
// the wake-up was lost, and the guard posts a no-op with call_soon_threadsafe to worker 0, which
// wakes it. Every rescue is counted and reported as the counter lost_wakeups (the rescued
// iteration includes the few milliseconds of detection).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <weft/weft.hpp>

namespace weft_perf {

using WallClock = std::chrono::steady_clock;

inline bool smoke() {
  static const bool on = [] {
    const char* e = std::getenv("WEFT_PERF_SMOKE");
    return e != nullptr && *e != '\0' && std::string_view(e) != "0";
  }();
  return on;
}

// A workload's full size, or 1/100 of it (at least 1) under WEFT_PERF_SMOKE.
inline std::int64_t scaled(std::int64_t full) {
  return smoke() ? std::max<std::int64_t>(1, full / 100) : full;
}

inline constexpr int kWorkerCounts[] = {1, 2, 4, 8, 16};

inline bool worker_count_fits(int n) {
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? n == 1 : static_cast<unsigned>(n) <= hw;
}

// Registers fn(state, workers) as <workload>/<runtime>/workers:<N> for every N that fits.
template <class Fn>
void register_workload(std::string_view workload, std::string_view runtime, Fn fn,
                       benchmark::TimeUnit unit = benchmark::kMillisecond) {
  for (int n : kWorkerCounts) {
    if (!worker_count_fits(n)) continue;
    std::string name = std::string(workload) + "/" + std::string(runtime) +
                       "/workers:" + std::to_string(n);
    benchmark::RegisterBenchmark(name.c_str(),
                                 [fn, n](benchmark::State& state) { fn(state, n); })
        ->UseRealTime()
        ->Unit(unit)
        // With --benchmark_repetitions: the fastest repetition, the least disturbed by other
        // load on a shared machine (reported beside mean/median/stddev).
        ->ComputeStatistics("min", [](const std::vector<double>& v) {
          return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
        });
  }
}

// Accumulates, over the timed calls, the wall time, the CPU time of the whole process (every
// thread: workers, pool threads, oneTBB's threads; getrusage) and its minor page faults.
// cpu_ns_per_op is the companion to ns_per_op on a shared machine: time spent preempted by
// other load is in the wall time but not in the CPU time (spinning and searching are in both).
// Page faults are worth watching: on the VM these numbers were taken on, one costs ~10-15 µs,
// so a workload that touches fresh memory is bound by them.
class Meter {
 public:
  template <class F>
  void time(F&& f) {
    const Usage u0 = usage();
    const auto t0 = WallClock::now();
    f();
    ns_ += std::chrono::duration<double, std::nano>(WallClock::now() - t0).count();
    const Usage u1 = usage();
    cpu_ns_ += u1.cpu_ns - u0.cpu_ns;
    faults_ += u1.faults - u0.faults;
  }
  [[nodiscard]] double total_ns() const noexcept { return ns_; }

  // ns_per_op (total wall ns / (iterations * ops_per_iter)), cpu_ns_per_op, faults_per_kop,
  // items/s.
  void report(benchmark::State& state, std::int64_t ops_per_iter) const {
    const double ops = static_cast<double>(state.iterations()) * static_cast<double>(ops_per_iter);
    if (ops <= 0) return;
    state.counters["ns_per_op"] = benchmark::Counter(ns_ / ops);
    state.counters["cpu_ns_per_op"] = benchmark::Counter(cpu_ns_ / ops);
    state.counters["faults_per_kop"] = benchmark::Counter(static_cast<double>(faults_) * 1e3 / ops);
    state.SetItemsProcessed(static_cast<std::int64_t>(ops));
  }

 private:
  struct Usage {
    double cpu_ns;
    long faults;
  };
  static Usage usage() noexcept {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto ns = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) * 1e9 + static_cast<double>(tv.tv_usec) * 1e3;
    };
    return {ns(u.ru_utime) + ns(u.ru_stime), u.ru_minflt};
  }
  double ns_ = 0;
  double cpu_ns_ = 0;
  long faults_ = 0;
};

inline long this_tid() { return static_cast<long>(::syscall(SYS_gettid)); }

// The scheduler state letter of one of this process's threads ('R', 'S', ...), '?' if unknown.
inline char thread_state(long tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
  std::FILE* f = std::fopen(path, "r");
  if (f == nullptr) return '?';
  char buf[512];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');  // the name may hold spaces and parentheses
  return paren != nullptr && paren[1] == ' ' ? paren[2] : '?';
}

// One weft::Runner for a whole benchmark (created outside the timing loop) plus the guard
// thread described at the top of this file.
class WeftDriver {
 public:
  static constexpr auto kPoll = std::chrono::milliseconds(1);

  explicit WeftDriver(int workers)
      : runner_({.workers = static_cast<std::size_t>(workers)}), guard_([this] { guard(); }) {}
  ~WeftDriver() {
    {
      std::lock_guard lock(mu_);
      phase_ = Phase::kExit;
    }
    cv_.notify_all();
    guard_.join();
  }
  WeftDriver(const WeftDriver&) = delete;
  WeftDriver& operator=(const WeftDriver&) = delete;

  template <class T>
  T run(weft::Coro<T> main) {
    {
      std::lock_guard lock(mu_);
      phase_ = Phase::kRunning;
      loop0_tid_ = this_tid();  // run() drives worker 0 on this thread
    }
    struct Returned {
      WeftDriver* d;
      ~Returned() {
        std::lock_guard lock(d->mu_);
        d->phase_ = Phase::kIdle;
      }
    } returned{this};
    return runner_.run(signal_when_done(std::move(main), this));
  }

  weft::Runner& runner() noexcept { return runner_; }
  [[nodiscard]] std::int64_t lost_wakeups() const {
    std::lock_guard lock(mu_);
    return rescues_;
  }
  // Adds lost_wakeups to the benchmark's counters when there were any, and with
  // WEFT_PERF_METRICS=1 the runtime's counters summed over workers, per iteration.
  void report(benchmark::State& state) {
    if (std::int64_t n = lost_wakeups()) state.counters["lost_wakeups"] = static_cast<double>(n);
    const char* e = std::getenv("WEFT_PERF_METRICS");
    if (e == nullptr || *e == '\0' || *e == '0' || state.iterations() == 0) return;
    weft::WorkerMetrics sum;
    for (const weft::WorkerMetrics& m : runner_.runtime().metrics()) {
      sum.tasks_run += m.tasks_run;
      sum.callbacks_run += m.callbacks_run;
      sum.steals += m.steals;
      sum.stolen += m.stolen;
      sum.parks += m.parks;
      sum.inbox_pops += m.inbox_pops;
      sum.polls += m.polls;
      sum.overflows += m.overflows;
    }
    const auto per_iter = [&](std::uint64_t v) {
      return static_cast<double>(v) / static_cast<double>(state.iterations());
    };
    state.counters["m_tasks_run"] = per_iter(sum.tasks_run);
    state.counters["m_callbacks"] = per_iter(sum.callbacks_run);
    state.counters["m_steals"] = per_iter(sum.steals);
    state.counters["m_stolen"] = per_iter(sum.stolen);
    state.counters["m_parks"] = per_iter(sum.parks);
    state.counters["m_inbox_pops"] = per_iter(sum.inbox_pops);
    state.counters["m_polls"] = per_iter(sum.polls);
    state.counters["m_overflows"] = per_iter(sum.overflows);
  }

 private:
  enum class Phase { kIdle, kRunning, kMainDone, kExit };

  template <class T>
  static weft::Coro<T> signal_when_done(weft::Coro<T> inner, WeftDriver* d) {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(inner);
      d->main_done();
    } else {
      T r = co_await std::move(inner);
      d->main_done();
      co_return r;
    }
  }

  void main_done() {
    {
      std::lock_guard lock(mu_);
      phase_ = Phase::kMainDone;
      finisher_tid_ = this_tid();
    }
    cv_.notify_one();
  }

  // Both threads asleep: the finisher has completed the main task (it never blocks on the way)
  // and worker 0 did not wake up for it.
  [[nodiscard]] bool looks_lost(long loop0, long finisher) const {
    return finisher != loop0 && thread_state(loop0) == 'S' && thread_state(finisher) == 'S';
  }

  void guard() {
    weft::EventLoop& loop0 = runner_.runtime().loop(0);
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return phase_ == Phase::kMainDone || phase_ == Phase::kExit; });
      if (phase_ == Phase::kExit) return;
      int strikes = 0;
      // run() normally returns within microseconds of main_done.
      while (!cv_.wait_for(lock, kPoll, [this] { return phase_ != Phase::kMainDone; })) {
        const long loop0_tid = loop0_tid_, finisher = finisher_tid_;
        lock.unlock();
        strikes = looks_lost(loop0_tid, finisher) ? strikes + 1 : 0;
        if (strikes == 2) (void)loop0.call_soon_threadsafe([] {});
        lock.lock();
        if (strikes == 2) {
          ++rescues_;
          strikes = 0;
        }
      }
    }
  }

  weft::Runner runner_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Phase phase_ = Phase::kIdle;  // guarded by mu_
  long loop0_tid_ = 0;          // guarded by mu_
  long finisher_tid_ = 0;       // guarded by mu_
  std::int64_t rescues_ = 0;    // guarded by mu_
  std::thread guard_;           // last: starts after everything it uses
};

}  // namespace weft_perf
