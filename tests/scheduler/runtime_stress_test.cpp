// Stress tests of the runtime: many tasks across workers, call_soon_threadsafe from foreign
// threads, cancellation racing completion, to_thread in bulk. Each on 2 and 4 workers.
//
// Nothing may be lost or done twice: counts are checked with atomics, each task's ending with
// a done callback. Counts are scaled down under sanitizers so each test stays within seconds on
// two cores.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <weft/weft.hpp>

#include "../weft_test_support.hpp"

using namespace std::chrono_literals;

namespace {

using weft::CancelledError;
using weft::Clock;
using weft::Coro;
using weft::Future;
using weft::Task;
using weft_test::wait_until;

// Full counts, a tenth under sanitizers.
constexpr long scaled(long n) { return weft_test::kSanitized ? n / 10 : n; }

class RuntimeStressTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  [[nodiscard]] std::size_t workers() const { return GetParam(); }
  [[nodiscard]] weft::RunOptions opts() const { return {.workers = GetParam()}; }
};

// Counts its own destruction; its copy inside a coroutine frame counts the frame's.
struct FrameGuard {
  std::atomic<long>* count;
  explicit FrameGuard(std::atomic<long>* c) : count(c) {}
  FrameGuard(FrameGuard&& o) noexcept : count(std::exchange(o.count, nullptr)) {}
  FrameGuard(const FrameGuard&) = delete;
  ~FrameGuard() {
    if (count) count->fetch_add(1, std::memory_order_relaxed);
  }
};

struct Counter {
  std::atomic<long> done{0};
  long total = 0;
  Future<>* finished = nullptr;  // set by whoever completes the last one
  void hit() {
    if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == total) finished->set_result();
  }
};

// ================================================================ a million tasks

Coro<void> leaf(Counter* c, FrameGuard guard) {
  c->hit();
  co_return;
}

Coro<void> spawner(Counter* c, long n, std::atomic<long>* freed) {
  for (long i = 0; i < n; ++i) {
    weft::create_task(leaf(c, FrameGuard(freed)));  // the handle is dropped: the task still runs
    if (i % 64 == 63) co_await weft::sleep(0s);      // let the leaves drain meanwhile
  }
}

TEST_P(RuntimeStressTest, MillionTasksNoneLost) {
  const long kSpawners = 1000;
  const long kPerSpawner = scaled(1'000'000) / kSpawners;
  const long total = kSpawners * kPerSpawner;
  std::atomic<long> freed{0};
  Counter counter;
  counter.total = total;
  const auto t0 = Clock::now();
  weft::Runner runner(opts());
  runner.run([&]() -> Coro<void> {
    Future<> finished = Future<>::create();
    counter.finished = &finished;
    for (long s = 0; s < kSpawners; ++s) weft::create_task(spawner(&counter, kPerSpawner, &freed));
    co_await finished;
  }());
  const auto took = Clock::now() - t0;
  EXPECT_EQ(counter.done.load(), total);
  auto m = runner.runtime().metrics();
  std::uint64_t tasks_run = 0, steals = 0;
  for (const auto& w : m) {
    tasks_run += w.tasks_run;
    steals += w.steals;
  }
  runner.close();
  EXPECT_EQ(freed.load(), total) << "every task frame is freed";
  EXPECT_GE(tasks_run, static_cast<std::uint64_t>(total));
  RecordProperty("tasks", static_cast<int>(total));
  RecordProperty("ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  RecordProperty("steals", static_cast<int>(steals));
}

// A tree of tasks awaiting their children (spawn + await across workers, results summed).
Coro<long> tree(int depth) {
  if (depth == 0) co_return 1;
  Task<long> a = weft::create_task(tree(depth - 1));
  Task<long> b = weft::create_task(tree(depth - 1));
  long x = co_await a;
  long y = co_await b;
  co_return x + y;
}

TEST_P(RuntimeStressTest, TaskTreeAwaitedAcrossWorkers) {
  const int depth = weft_test::kSanitized ? 12 : 16;
  long leaves = weft::run(tree(depth), opts());
  EXPECT_EQ(leaves, 1L << depth);
}

// ================================================================ call_soon_threadsafe

TEST_P(RuntimeStressTest, CallSoonThreadsafeFromForeignThreadsNoneLost) {
  constexpr int kThreads = 4;
  const long per_thread = scaled(200'000);
  const std::size_t nloops = workers();
  // last[t][l]: the last sequence number loop l ran from thread t; touched only by loop l's
  // thread (and read after every callback has run).
  std::vector<std::vector<long>> last(kThreads, std::vector<long>(nloops, -1));
  std::atomic<long> out_of_order{0};
  Counter counter;
  counter.total = kThreads * per_thread;
  weft::Runner runner(opts());
  std::vector<weft::EventLoop*> loops;
  for (std::size_t l = 0; l < nloops; ++l) loops.push_back(&runner.runtime().loop(l));
  runner.run([&]() -> Coro<void> {
    Future<> finished = Future<>::create();
    counter.finished = &finished;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (long i = 0; i < per_thread; ++i) {
          const std::size_t l = static_cast<std::size_t>(i + t) % nloops;
          loops[l]->call_soon_threadsafe([&, t, l, i] {
            if (last[t][l] >= i) out_of_order.fetch_add(1);
            last[t][l] = i;
            counter.hit();
          });
        }
      });
    }
    co_await finished;
    for (auto& th : threads) th.join();
  }());
  EXPECT_EQ(counter.done.load(), counter.total);
  EXPECT_EQ(out_of_order.load(), 0) << "one thread's callbacks to one loop run in order";
  std::uint64_t inbox_pops = 0;
  for (const auto& w : runner.runtime().metrics()) inbox_pops += w.inbox_pops;
  EXPECT_GE(inbox_pops, static_cast<std::uint64_t>(counter.total));
  runner.close();
}

// Tasks woken from foreign threads (futures completed off the runtime), many at once.
Coro<void> await_and_count(Future<int> f, int expect, Counter* c, std::atomic<long>* wrong) {
  int v = co_await f;
  if (v != expect) wrong->fetch_add(1);
  c->hit();
}

TEST_P(RuntimeStressTest, FuturesCompletedFromForeignThreads) {
  const long n = scaled(100'000);
  std::atomic<long> wrong{0};
  Counter counter;
  counter.total = n;
  weft::run(
      [&]() -> Coro<void> {
        Future<> finished = Future<>::create();
        counter.finished = &finished;
        std::vector<Future<int>> futures;
        futures.reserve(static_cast<std::size_t>(n));
        for (long i = 0; i < n; ++i) {
          futures.push_back(Future<int>::create());
          weft::create_task(await_and_count(futures.back(), static_cast<int>(i), &counter, &wrong));
        }
        std::vector<std::thread> threads;
        for (int t = 0; t < 3; ++t) {
          threads.emplace_back([&, t] {
            for (long i = t; i < n; i += 3) futures[static_cast<std::size_t>(i)].set_result(static_cast<int>(i));
          });
        }
        co_await finished;
        for (auto& th : threads) th.join();
      }(),
      opts());
  EXPECT_EQ(counter.done.load(), n);
  EXPECT_EQ(wrong.load(), 0);
}

// ================================================================ cancel racing completion

struct RaceState {
  std::vector<std::atomic<int>> ends;      // done callbacks run per task
  std::vector<std::atomic<int>> outcomes;  // 1 result, 2 cancelled, 3 wrong result, 4 other
  std::vector<Future<int>> gates;          // for the kind that awaits a foreign-thread future
  std::atomic<long> ended{0};
  explicit RaceState(std::size_t n) : ends(n), outcomes(n) {}
};

Coro<int> racer(int i, Future<int> gate) {
  switch (i % 5) {
    case 0:  // finishes in its first step
      co_return i;
    case 1:  // a few yields
      for (int k = 0; k < 1 + i % 4; ++k) co_await weft::sleep(0s);
      co_return i;
    case 2:  // a short timer
      co_await weft::sleep(std::chrono::microseconds(i % 300));
      co_return i;
    case 3: {  // a future some plain thread completes (or that the cancel cancels)
      int v = co_await gate;
      co_return v;
    }
    default: {  // swallows a cancellation once and finishes anyway, with -i
      bool swallowed = false;
      try {
        co_await weft::sleep(std::chrono::microseconds(i % 200));
      } catch (const CancelledError&) {
        swallowed = true;
      }
      if (swallowed) {
        co_await weft::sleep(0s);
        co_return -i;
      }
      co_return i;
    }
  }
}

Coro<void> canceller(std::vector<Task<int>>* tasks, std::uint64_t seed) {
  std::uint64_t s = seed;
  for (std::size_t k = 0; k < tasks->size(); ++k) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    (*tasks)[s % tasks->size()].cancel("race");
    if (k % 32 == 0) co_await weft::sleep(0s);
  }
}

TEST_P(RuntimeStressTest, CancelRacingCompletion) {
  const int n = static_cast<int>(scaled(50'000));
  RaceState st(static_cast<std::size_t>(n));
  long results = 0, cancelled = 0;
  weft::run(
      [&]() -> Coro<void> {
        std::vector<Task<int>> tasks;
        tasks.reserve(static_cast<std::size_t>(n));
        st.gates.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
          st.gates.push_back(Future<int>::create());
          tasks.push_back(weft::create_task(racer(i, st.gates.back())));
          tasks.back().add_done_callback([&st, i](Task<int> t) {
            st.ends[static_cast<std::size_t>(i)].fetch_add(1);
            int outcome = 4;
            if (t.cancelled()) {
              outcome = 2;
            } else {
              try {
                int v = t.result();
                outcome = (v == i || (i % 5 == 4 && v == -i)) ? 1 : 3;
              } catch (...) {
                outcome = 4;
              }
            }
            st.outcomes[static_cast<std::size_t>(i)].store(outcome);
            st.ended.fetch_add(1);
          });
        }
        // A plain thread completes the gates and cancels tasks at random, while a task cancels
        // others; both race the tasks' own completion.
        std::thread foreign([&] {
          std::uint64_t s = 0x1234567;
          for (int i = 0; i < n; ++i) {
            if (i % 5 == 3) {
              try {
                st.gates[static_cast<std::size_t>(i)].set_result(i);
              } catch (const weft::InvalidStateError&) {
                // the task was cancelled first, and its gate with it
              }
            }
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if (s % 3 == 0) tasks[s % static_cast<std::size_t>(n)].cancel("thread race");
          }
        });
        Task<> c1 = weft::create_task(canceller(&tasks, 99));
        co_await c1;
        foreign.join();
        for (auto& t : tasks) {
          try {
            (void)co_await t;
          } catch (const CancelledError&) {
          }
        }
        // Done callbacks are queued by completion; wait for the last of them.
        EXPECT_TRUE(co_await wait_until([&] { return st.ended.load() == n; }, 60s));
      }(),
      opts());
  long wrong = 0, twice = 0, never = 0;
  for (int i = 0; i < n; ++i) {
    int e = st.ends[static_cast<std::size_t>(i)].load();
    if (e == 0) ++never;
    if (e > 1) ++twice;
    switch (st.outcomes[static_cast<std::size_t>(i)].load()) {
      case 1:
        ++results;
        break;
      case 2:
        ++cancelled;
        break;
      default:
        ++wrong;
    }
  }
  EXPECT_EQ(never, 0);
  EXPECT_EQ(twice, 0) << "a task ends exactly once";
  EXPECT_EQ(wrong, 0) << "each task ends either cancelled or with its own result";
  EXPECT_EQ(results + cancelled, n);
  RecordProperty("results", static_cast<int>(results));
  RecordProperty("cancelled", static_cast<int>(cancelled));
}

// Two threads cancelling a task while a third completes what it awaits: one outcome, seen
// the same way by the awaiter and by the task's state.
Coro<int> wait_gate(Future<int> g) { co_return co_await g; }

TEST_P(RuntimeStressTest, CancelFromManyThreadsAtOnce) {
  const int rounds = static_cast<int>(scaled(2'000));
  std::atomic<int> wins_total{0}, bad{0};
  weft::run(
      [&]() -> Coro<void> {
        for (int r = 0; r < rounds; ++r) {
          Future<int> gate = Future<int>::create();
          Task<int> t = weft::create_task(wait_gate(gate));
          std::atomic<int> wins{0};
          std::thread a([&] { wins += t.cancel("a") ? 1 : 0; });
          std::thread b([&] { wins += t.cancel("b") ? 1 : 0; });
          std::thread c([&] {
            try {
              gate.set_result(r);
            } catch (const weft::InvalidStateError&) {
            }
          });
          int v = -1;
          bool was_cancelled = false;
          try {
            v = co_await t;
          } catch (const CancelledError&) {
            was_cancelled = true;
          }
          a.join();
          b.join();
          c.join();
          if (was_cancelled != t.cancelled()) bad.fetch_add(1);
          if (!was_cancelled && v != r) bad.fetch_add(1);
          wins_total += wins.load();
        }
      }(),
      opts());
  EXPECT_EQ(bad.load(), 0);
  RecordProperty("cancel_wins", wins_total.load());
}

// ================================================================ to_thread

Coro<int> blocking_double(int i, std::atomic<int>* calls) {
  co_return co_await weft::to_thread([i, calls] {
    calls->fetch_add(1);
    return i * 2;
  });
}
Coro<int> blocking_identity(int i, std::atomic<int>* calls) {
  co_return co_await weft::to_thread([i, calls] {
    calls->fetch_add(1);
    return i;
  });
}

TEST_P(RuntimeStressTest, ToThreadManyCalls) {
  const int n = static_cast<int>(scaled(20'000));
  std::atomic<int> calls{0};
  long sum = weft::run(
      [&]() -> Coro<long> {
        std::vector<Task<int>> tasks;
        for (int i = 0; i < n; ++i) {
          tasks.push_back(weft::create_task(blocking_double(i, &calls)));
        }
        long total = 0;
        for (auto& t : tasks) total += co_await t;
        // Exceptions travel back too.
        int raised = 0;
        for (int i = 0; i < 50; ++i) {
          try {
            co_await weft::to_thread([] { throw std::runtime_error("blocking boom"); });
          } catch (const std::runtime_error&) {
            ++raised;
          }
        }
        EXPECT_EQ(raised, 50);
        co_return total;
      }(),
      opts());
  EXPECT_EQ(calls.load(), n);
  EXPECT_EQ(sum, static_cast<long>(n) * (n - 1));
}

TEST_P(RuntimeStressTest, ToThreadCancelledWhileRunning) {
  // Cancelling the awaiting task cancels the future; the call itself runs to its end and its
  // result is dropped. Every task ends exactly once.
  const int n = static_cast<int>(scaled(5'000));
  std::atomic<int> calls{0}, ended{0}, got_result{0}, got_cancel{0};
  weft::run(
      [&]() -> Coro<void> {
        std::vector<Task<int>> tasks;
        for (int i = 0; i < n; ++i) {
          tasks.push_back(weft::create_task(blocking_identity(i, &calls)));
          if (i % 2 == 0) tasks.back().cancel();
          tasks.back().add_done_callback([&](Task<int>) { ended.fetch_add(1); });
        }
        for (auto& t : tasks) {
          try {
            (void)co_await t;
            got_result.fetch_add(1);
          } catch (const CancelledError&) {
            got_cancel.fetch_add(1);
          }
        }
        EXPECT_TRUE(co_await wait_until([&] { return ended.load() == n; }, 60s));
      }(),
      opts());
  EXPECT_EQ(got_result.load() + got_cancel.load(), n);
  EXPECT_GE(got_cancel.load(), 1);
  EXPECT_LE(calls.load(), n);
  EXPECT_EQ(ended.load(), n);
}

INSTANTIATE_TEST_SUITE_P(Workers, RuntimeStressTest, ::testing::Values(2, 4),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return "w" + std::to_string(info.param);
                         });

}  // namespace
