// Behavioural tests of the event loop and the runtime around it: call_soon / call_later /
// call_at / call_soon_threadsafe, handles, loop.time(), debug mode, the exception handler,
// Runner, shutdown and metrics; each on 1, 2 and 4 workers. With one worker, asyncio's exact
// interleaving of task steps and callbacks.
//
// Test bodies are lambdas invoked inside weft::run's (or Runner::run's) full expression, so
// their [&] captures outlive every task they create. Coroutines use EXPECT_* only (ASSERT_*
// returns, which a coroutine cannot).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <string>
#include <thread>
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
using weft_test::capture_all_loops;
using weft_test::Captured;
using weft_test::wait_until;
using weft_test::what_of;

class EventLoopTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  [[nodiscard]] std::size_t workers() const { return GetParam(); }
  [[nodiscard]] weft::RunOptions opts() const { return {.workers = GetParam()}; }
  template <class F>
  auto run(F&& body) {
    return weft::run(body(), opts());
  }
};

// A list appended to from callbacks (possibly on several threads).
struct Log {
  std::mutex mu;
  std::vector<std::string> items;
  void add(std::string s) {
    std::lock_guard lock(mu);
    items.push_back(std::move(s));
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mu);
    return items;
  }
};

weft::WorkerMetrics sum(const std::vector<weft::WorkerMetrics>& v) {
  weft::WorkerMetrics s;
  for (const auto& m : v) {
    s.tasks_run += m.tasks_run;
    s.callbacks_run += m.callbacks_run;
    s.steals += m.steals;
    s.stolen += m.stolen;
    s.parks += m.parks;
    s.inbox_pops += m.inbox_pops;
    s.polls += m.polls;
    s.overflows += m.overflows;
    s.timers_fired += m.timers_fired;
  }
  return s;
}

Coro<int> value_of(int v) { co_return v; }
Coro<int> wait_future(Future<int> f) { co_return co_await f; }

// ================================================================ call_soon

TEST_P(EventLoopTest, CallSoonRunsFifoOnOneLoop) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    constexpr int kN = 2000;
    std::vector<int> order;  // touched only by `loop`'s thread until `done` is set
    Future<> done = loop.create_future();
    std::thread::id loop_thread = std::this_thread::get_id();
    std::atomic<int> wrong_thread{0};
    for (int i = 0; i < kN; ++i) {
      auto cb = [&, i] {
        if (std::this_thread::get_id() != loop_thread) wrong_thread.fetch_add(1);
        order.push_back(i);
        if (i == kN - 1) done.set_result();
      };
      // call_soon and call_soon_threadsafe from the loop's own thread share one FIFO.
      if (i % 3 == 0) {
        loop.call_soon_threadsafe(cb);
      } else {
        loop.call_soon(cb);
      }
    }
    co_await done;
    EXPECT_EQ(wrong_thread.load(), 0) << "a callback runs on the loop it was given to";
    EXPECT_EQ(order.size(), static_cast<std::size_t>(kN));
    bool fifo = true;
    for (int i = 0; i < static_cast<int>(order.size()); ++i) fifo = fifo && order[i] == i;
    EXPECT_TRUE(fifo);
  });
}

TEST_P(EventLoopTest, HandleCancel) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    std::atomic<int> ran{0}, cancelled_ran{0};
    weft::Handle h = loop.call_soon([&] { cancelled_ran.fetch_add(1); });
    EXPECT_FALSE(h.cancelled());
    h.cancel();
    EXPECT_TRUE(h.cancelled());
    h.cancel();  // twice is harmless
    // Cancelled from another thread before it runs: the callback is queued behind this step
    // (the loop runs it only once this step ends), so the thread certainly comes first.
    weft::Handle h2 = loop.call_soon([&] { cancelled_ran.fetch_add(1); });
    std::thread th([h2]() mutable { h2.cancel(); });
    th.join();
    EXPECT_TRUE(h2.cancelled());
    Future<> done = loop.create_future();
    loop.call_soon([&] {
      ran.fetch_add(1);
      done.set_result();
    });
    co_await done;
    EXPECT_EQ(ran.load(), 1);
    EXPECT_EQ(cancelled_ran.load(), 0);
    // A handle to a callback that has run: cancel() does nothing.
    weft::Handle h3 = loop.call_soon([&] { ran.fetch_add(1); });
    EXPECT_TRUE(co_await wait_until([&] { return ran.load() == 2; }));
    h3.cancel();
    EXPECT_FALSE(h3.cancelled());
  });
}

// ================================================================ timers

TEST_P(EventLoopTest, CallLaterAndCallAtOrdering) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    std::vector<int> order;  // loop thread only; read after `count` says all ran
    std::atomic<int> count{0};
    auto record = [&](int v) {
      return [&, v] {
        order.push_back(v);
        count.fetch_add(1, std::memory_order_release);
      };
    };
    const Clock::time_point base = loop.now();
    // Timers run in deadline order, after the callbacks already queued. The expected order is
    // taken from the handles' deadlines, so a preempted test thread cannot make it flaky.
    std::vector<std::pair<weft::TimerHandle, int>> timers;
    timers.emplace_back(loop.call_at(base + 60ms, record(4)), 4);
    timers.emplace_back(loop.call_later(20ms, record(2)), 2);
    timers.emplace_back(loop.call_later(0.04, record(3)), 3);  // seconds, as asyncio
    timers.emplace_back(loop.call_later(10ms, record(1)), 1);
    loop.call_soon(record(0));
    weft::TimerHandle cancelled = loop.call_later(30ms, record(99));
    timers.emplace_back(loop.call_at(base - 1s, record(-1)), -1);  // in the past: runs at once
    timers.emplace_back(loop.call_at(base + 80ms, record(5)), 5);
    EXPECT_GE(cancelled.when(), base + 30ms);
    EXPECT_EQ(timers[0].first.when(), base + 60ms);
    EXPECT_GE(timers[1].first.when(), base + 20ms);
    EXPECT_GE(timers[2].first.when(), base + 40ms);
    cancelled.cancel();
    EXPECT_TRUE(cancelled.cancelled());
    EXPECT_TRUE(co_await wait_until([&] { return count.load(std::memory_order_acquire) == 7; }));
    EXPECT_GE(loop.now() - base, 80ms) << "a timer never fires early";
    std::stable_sort(timers.begin(), timers.end(),
                     [](const auto& a, const auto& b) { return a.first.when() < b.first.when(); });
    std::vector<int> expected{0};
    for (const auto& t : timers) expected.push_back(t.second);
    EXPECT_EQ(order, expected);
    EXPECT_EQ(std::count(order.begin(), order.end(), 99), 0);
  });
}

TEST_P(EventLoopTest, TimerHandleCancelFromAnotherThread) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    std::atomic<int> cancelled_ran{0};
    std::vector<weft::TimerHandle> handles;
    for (int i = 0; i < 50; ++i) {
      handles.push_back(loop.call_later(20ms + i * 100us, [&] { cancelled_ran.fetch_add(1); }));
    }
    std::thread th([handles]() mutable {
      for (auto& h : handles) h.cancel();
    });
    th.join();
    for (auto& h : handles) EXPECT_TRUE(h.cancelled());
    Future<> done = loop.create_future();
    loop.call_later(50ms, [&] { done.set_result(); });  // fires after every cancelled deadline
    co_await done;
    EXPECT_EQ(cancelled_ran.load(), 0);
  });
}

TEST_P(EventLoopTest, CallLaterAndCallSoonFromAnotherThread) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    std::atomic<int> cancelled_ran{0}, later_ran{0}, count{0};
    std::vector<int> order;  // loop thread only; read after `count` says all three ran
    auto record = [&](int v) {
      order.push_back(v);
      count.fetch_add(1, std::memory_order_release);
    };
    std::thread th([&] {
      // call_soon / call_later / call_at from a foreign thread are routed through the loop's
      // inbox. The deadlines share one base, so a preempted thread cannot reorder them.
      const Clock::time_point base = loop.now();
      loop.call_at(base + 30ms, [&] { record(2); });
      loop.call_soon([&] { record(0); });
      weft::TimerHandle h = loop.call_later(10ms, [&] { cancelled_ran.fetch_add(1); });
      h.cancel();  // cancelled before the loop has even inserted it
      loop.call_at(base + 20ms, [&] { record(1); });
      loop.call_later(5ms, [&] { later_ran.fetch_add(1); });
    });
    EXPECT_TRUE(co_await wait_until([&] {
      return count.load(std::memory_order_acquire) == 3 && later_ran.load() == 1;
    }));
    th.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(cancelled_ran.load(), 0);
  });
}

TEST_P(EventLoopTest, LoopTimeIsMonotonic) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    double prev = loop.time();
    bool monotonic = true;
    for (int i = 0; i < 1000; ++i) {
      double t = loop.time();
      monotonic = monotonic && t >= prev;
      prev = t;
    }
    EXPECT_TRUE(monotonic);
    double t0 = loop.time();
    Clock::time_point n0 = loop.now();
    co_await weft::sleep(20ms);
    double t1 = weft::get_running_loop().time();  // possibly another worker: same clock
    EXPECT_GE(t1 - t0, 0.019);
    EXPECT_LT(t1 - t0, 30.0);
    EXPECT_GE(weft::get_running_loop().now() - n0, 20ms);
  });
}

TEST_P(EventLoopTest, SleepDurationBounds) {
  run([&]() -> Coro<void> {
    auto t0 = Clock::now();
    co_await weft::sleep(30ms);
    auto took = Clock::now() - t0;
    EXPECT_GE(took, 30ms);
    EXPECT_LT(took, 10s);
    t0 = Clock::now();
    co_await weft::sleep(0.02);  // seconds
    EXPECT_GE(Clock::now() - t0, 20ms);
    t0 = Clock::now();
    co_await weft::sleep(-1s);  // negative: a yield
    co_await weft::sleep(-1.0);
    EXPECT_LT(Clock::now() - t0, 10s);
    bool raised = false;
    try {
      co_await weft::sleep(std::nan(""));
    } catch (const weft::ValueError&) {
      raised = true;
    }
    EXPECT_TRUE(raised);
  });
}

// ================================================================ call_soon_threadsafe

TEST_P(EventLoopTest, CallSoonThreadsafeFromPlainThread) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    constexpr int kN = 20000;
    std::vector<int> order;  // loop thread only until `done`
    order.reserve(kN);
    Future<> done = loop.create_future();
    std::thread th([&] {
      for (int i = 0; i < kN; ++i) {
        loop.call_soon_threadsafe([&, i] {
          order.push_back(i);
          if (i == kN - 1) done.set_result();
        });
      }
    });
    co_await done;
    th.join();
    EXPECT_EQ(order.size(), static_cast<std::size_t>(kN));
    bool fifo = true;
    for (int i = 0; i < static_cast<int>(order.size()); ++i) fifo = fifo && order[i] == i;
    EXPECT_TRUE(fifo) << "one producer's callbacks run in the order it queued them";
  });
}

TEST_P(EventLoopTest, CallSoonThreadsafeBeforeAndBetweenRuns) {
  // Worker 0's loop is not running outside Runner::run: what other threads queue there waits
  // in its inbox and runs at the next run().
  weft::Runner runner(opts());
  weft::EventLoop& loop = runner.get_loop();
  std::atomic<int> ran{0};
  std::thread th([&] {
    for (int i = 0; i < 100; ++i) loop.call_soon_threadsafe([&] { ran.fetch_add(1); });
  });
  th.join();
  runner.run([&]() -> Coro<void> {
    EXPECT_TRUE(co_await wait_until([&] { return ran.load() == 100; }));
  }());
  runner.close();
}

TEST_P(EventLoopTest, CreateTaskOnALoopFromAnotherThread) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    std::optional<Task<int>> t;
    std::thread th([&] { t = loop.create_task(value_of(12), {.name = "from-thread"}); });
    th.join();
    EXPECT_EQ(t->get_name(), "from-thread");
    EXPECT_EQ(co_await *t, 12);
    // A future of that loop, completed from the thread too.
    Future<int> f = loop.create_future<int>();
    std::thread th2([f]() mutable { f.set_result(13); });
    EXPECT_EQ(co_await f, 13);
    th2.join();
  });
}

// ================================================================ debug mode

void block_for(Clock::duration d) {
  // A blocking call inside a step (what debug mode exists to catch), not synchronisation.
  std::this_thread::sleep_for(d);
}

Coro<void> slow_step(Clock::duration d) {
  co_await weft::sleep(0s);
  block_for(d);
}

TEST_P(EventLoopTest, DebugModeReportsSlowStepsWithTaskName) {
  Captured cap;
  weft::run(
      [&]() -> Coro<void> {
        capture_all_loops(cap);
        weft::EventLoop& loop = weft::get_running_loop();
        EXPECT_TRUE(loop.get_debug());
        Task<> t = weft::create_task(slow_step(150ms), {.name = "slowpoke"});
        co_await t;
        EXPECT_TRUE(co_await wait_until([&] { return cap.count_message("slowpoke") >= 1; }));
        std::atomic<bool> cb_done{false};
        loop.call_soon([&] {
          block_for(150ms);
          cb_done.store(true);
        });
        EXPECT_TRUE(co_await wait_until(
            [&] { return cb_done.load() && cap.count_message("Executing callback took") >= 1; }));
      }(),
      {.workers = workers(), .debug = true});
  std::size_t task_reports = 0, callback_reports = 0;
  for (const auto& c : cap.snapshot()) {
    if (c.message.find("Executing Task slowpoke took") == 0) {
      ++task_reports;
      EXPECT_EQ(c.task_name, "slowpoke");
      EXPECT_NE(c.message.find("seconds"), std::string::npos) << c.message;
    } else if (c.message.find("Executing callback took") == 0) {
      ++callback_reports;
      EXPECT_TRUE(c.task_name.empty());
    }
  }
  // At least: under load an unrelated part of a step may be slow too and reported again.
  EXPECT_GE(task_reports, 1u);
  EXPECT_GE(callback_reports, 1u);
}

TEST_P(EventLoopTest, DebugModeThresholdAndOff) {
  // A custom threshold.
  Captured cap;
  weft::run(
      [&]() -> Coro<void> {
        capture_all_loops(cap);
        // (Not `co_await create_task(..., {.name = ...})` in one expression: g++ 12 miscompiles
        // a string-holding temporary inside a co_await operand.)
        Task<> t = weft::create_task(slow_step(40ms), {.name = "medium"});
        co_await t;
        EXPECT_TRUE(co_await wait_until([&] { return cap.count_message("medium") >= 1; }));
      }(),
      {.workers = workers(), .debug = true, .slow_callback_duration = 20ms});
  EXPECT_GE(cap.count_message("Executing Task medium"), 1u);

  // Debug off (unless WEFT_DEBUG is set in the environment): nothing is reported.
  Captured quiet;
  bool debug_on = false;
  weft::run(
      [&]() -> Coro<void> {
        capture_all_loops(quiet);
        debug_on = weft::get_running_loop().get_debug();
        Task<> t = weft::create_task(slow_step(120ms), {.name = "unwatched"});
        co_await t;
      }(),
      opts());
  if (!debug_on) {
    EXPECT_EQ(quiet.count_message("Executing"), 0u);
  }
}

// ================================================================ exception handler

TEST_P(EventLoopTest, ExceptionHandlerReplacement) {
  run([&]() -> Coro<void> {
    weft::EventLoop& loop = weft::get_running_loop();
    std::atomic<int> a{0}, b{0};
    std::atomic<weft::EventLoop*> seen_loop{nullptr};
    std::mutex mu;
    std::string last_message, last_what;
    loop.set_exception_handler([&](weft::EventLoop& l, const weft::ExceptionContext& c) {
      seen_loop.store(&l);
      std::lock_guard lock(mu);
      last_message = c.message;
      last_what = what_of(c.exception);
      a.fetch_add(1);
    });
    loop.call_soon([] { throw std::runtime_error("first"); });
    EXPECT_TRUE(co_await wait_until([&] { return a.load() == 1; }));
    EXPECT_EQ(seen_loop.load(), &loop);
    {
      std::lock_guard lock(mu);
      EXPECT_EQ(last_message, "Exception in callback");
      EXPECT_EQ(last_what, "first");
    }
    loop.set_exception_handler([&](weft::EventLoop&, const weft::ExceptionContext&) { b.fetch_add(1); });
    loop.call_soon([] { throw std::runtime_error("second"); });
    EXPECT_TRUE(co_await wait_until([&] { return b.load() == 1; }));
    EXPECT_EQ(a.load(), 1) << "the replaced handler is no longer called";
    // call_exception_handler directly, as user code may.
    loop.call_exception_handler({"custom report", nullptr, "someone"});
    EXPECT_EQ(b.load(), 2);
    // A handler that throws: the loop survives (the default handler reports both to stderr).
    loop.set_exception_handler(
        [](weft::EventLoop&, const weft::ExceptionContext&) { throw std::runtime_error("bad handler"); });
    std::atomic<bool> after{false};
    loop.call_soon([] { throw std::runtime_error("third"); });
    loop.call_soon([&] { after.store(true); });
    EXPECT_TRUE(co_await wait_until([&] { return after.load(); }));
    // Back to the default handler (prints to stderr).
    loop.set_exception_handler(nullptr);
    loop.call_exception_handler({"default handler check (expected in test output)", nullptr, {}});
    EXPECT_EQ(b.load(), 2);
  });
}

// ================================================================ Runner

Coro<void> sleep_forever(Future<> started, std::atomic<int>* cancelled) {
  started.set_result();
  try {
    co_await weft::sleep(1h);
  } catch (const CancelledError&) {
    cancelled->fetch_add(1);
    throw;
  }
}

TEST_P(EventLoopTest, RunnerRunsSeveralTimesOnOneRuntime) {
  std::atomic<int> cancelled{0};
  weft::Runner runner(opts());
  std::optional<Future<int>> gate;
  Task<int> background;
  weft::EventLoop* first_loop = &runner.get_loop();
  EXPECT_EQ(runner.runtime().workers(), workers());
  EXPECT_EQ(runner.run(value_of(1)), 1);
  runner.run([&]() -> Coro<void> {
    gate = Future<int>::create();
    background = weft::create_task(wait_future(*gate), {.name = "background"});
    co_return;
  }());
  EXPECT_FALSE(background.done()) << "a task outlives the run() that created it";
  const auto m1 = sum(runner.runtime().metrics());
  EXPECT_EQ(&runner.get_loop(), first_loop);
  int got = runner.run([&]() -> Coro<int> {
    bool listed = false;
    for (auto& t : weft::all_tasks()) listed = listed || t.get_name() == "background";
    EXPECT_TRUE(listed);
    gate->set_result(5);
    co_return co_await background;
  }());
  EXPECT_EQ(got, 5);
  const auto m2 = sum(runner.runtime().metrics());
  EXPECT_GT(m2.tasks_run, m1.tasks_run);
  // A task left pending at close() is cancelled.
  runner.run([&]() -> Coro<void> {
    Future<> started = Future<>::create();
    weft::create_task(sleep_forever(started, &cancelled));
    co_await started;  // it is in its sleep (or about to be): not cancelled before it starts
  }());
  runner.close();
  EXPECT_EQ(cancelled.load(), 1);
  EXPECT_TRUE(runner.runtime().closed());
  background = Task<int>();  // before the runner goes
  gate.reset();
}

// ================================================================ shutdown

// Counts its own destruction; its copy inside a coroutine frame counts the frame's.
struct FrameGuard {
  std::atomic<int>* count;
  explicit FrameGuard(std::atomic<int>* c) : count(c) {}
  FrameGuard(FrameGuard&& o) noexcept : count(std::exchange(o.count, nullptr)) {}
  FrameGuard(const FrameGuard&) = delete;
  ~FrameGuard() {
    if (count) count->fetch_add(1);
  }
};
Coro<void> spawned_in_cleanup(FrameGuard guard) { co_await weft::sleep(1h); }
Coro<void> swallow_then_cleanup(Future<> started, std::atomic<int>* cleaned,
                                std::atomic<int>* spawned_freed) {
  started.set_result();
  bool swallowed = false;
  try {
    co_await weft::sleep(1h);
  } catch (const CancelledError&) {
    swallowed = true;
  }
  if (swallowed) {
    co_await weft::sleep(1ms);  // asynchronous clean-up after the cancellation
    // Spawned during shutdown: the next round cancels it (its frame is freed).
    weft::create_task(spawned_in_cleanup(FrameGuard(spawned_freed)));
    cleaned->fetch_add(1);
  }
}
Coro<void> fail_on_cancel(Future<> started) {
  started.set_result();
  try {
    co_await weft::sleep(1h);
  } catch (const CancelledError&) {
    throw std::runtime_error("failed while cancelled");
  }
}
Coro<void> wait_forever(Future<> f) { co_await f; }

TEST_P(EventLoopTest, ShutdownCancelsPendingTasksAndDropsTimers) {
  Captured cap;
  std::atomic<int> cancelled{0}, cleaned{0}, spawned_freed{0};
  std::atomic<bool> timer_ran{false};
  const auto t0 = Clock::now();
  weft::run(
      [&]() -> Coro<void> {
        capture_all_loops(cap);
        std::vector<Future<>> started;
        for (int i = 0; i < 10; ++i) {
          started.push_back(Future<>::create());
          weft::create_task(sleep_forever(started.back(), &cancelled));
        }
        started.push_back(Future<>::create());
        weft::create_task(swallow_then_cleanup(started.back(), &cleaned, &spawned_freed));
        started.push_back(Future<>::create());
        weft::create_task(fail_on_cancel(started.back()), {.name = "failing"});
        weft::create_task(wait_forever(Future<>::create()));
        weft::get_running_loop().call_later(1h, [&] { timer_ran.store(true); });
        weft::get_running_loop().call_later(30min, [&] { timer_ran.store(true); });
        for (auto& s : started) co_await s;
        co_return;  // everything above is still pending
      }(),
      opts());
  EXPECT_LT(Clock::now() - t0, 20s) << "run() returns without waiting for the timers";
  EXPECT_EQ(cancelled.load(), 10);
  EXPECT_EQ(cleaned.load(), 1) << "a task swallowing the cancellation finishes its clean-up";
  EXPECT_EQ(spawned_freed.load(), 1) << "the task spawned by the clean-up was cancelled and freed";
  EXPECT_FALSE(timer_ran.load());
  std::size_t failures = 0;
  for (const auto& c : cap.snapshot()) {
    if (c.message.find("shutdown") == std::string::npos) continue;
    ++failures;
    EXPECT_EQ(c.task_name, "failing");
    EXPECT_EQ(what_of(c.exception), "failed while cancelled");
  }
  EXPECT_EQ(failures, 1u) << "asyncio.run reports tasks that fail while being cancelled";
}

// ================================================================ metrics

Coro<void> sleepy() {
  co_await weft::sleep(1ms);
  co_await weft::sleep(0s);
}

TEST_P(EventLoopTest, MetricsCountersIncrease) {
  weft::Runner runner(opts());
  const auto before = runner.runtime().metrics();
  EXPECT_EQ(before.size(), workers());
  const auto b = sum(before);
  runner.run([&]() -> Coro<void> {
    std::vector<Task<>> tasks;
    for (int i = 0; i < 200; ++i) tasks.push_back(weft::create_task(sleepy()));
    for (auto& t : tasks) co_await t;
    std::atomic<int> ran{0};
    for (int i = 0; i < 50; ++i) weft::get_running_loop().call_soon([&] { ran.fetch_add(1); });
    EXPECT_TRUE(co_await wait_until([&] { return ran.load() == 50; }));
    std::thread th([&loop = weft::get_running_loop(), &ran] {
      for (int i = 0; i < 10; ++i) loop.call_soon_threadsafe([&ran] { ran.fetch_add(1); });
    });
    th.join();
    EXPECT_TRUE(co_await wait_until([&] { return ran.load() == 60; }));
  }());
  const auto a = sum(runner.runtime().metrics());
  EXPECT_GE(a.tasks_run, b.tasks_run + 200 * 3) << "each task took at least three steps";
  EXPECT_GE(a.callbacks_run, b.callbacks_run + 60);
  EXPECT_GE(a.timers_fired, b.timers_fired + 1);
  EXPECT_GT(a.polls, b.polls);
  EXPECT_GE(a.inbox_pops, b.inbox_pops + 1);
  // (No per-loop expectation: with several workers the main task itself may be stolen from
  // worker 0 before worker 0 runs a single step.)
  std::uint64_t per_loop_tasks = 0;
  for (std::size_t i = 0; i < workers(); ++i) per_loop_tasks += runner.runtime().loop(i).metrics().tasks_run;
  EXPECT_EQ(per_loop_tasks, a.tasks_run);
  if (workers() == 1) {
    EXPECT_EQ(a.steals, 0u);
    EXPECT_EQ(a.overflows, 0u);
  }
  EXPECT_GE(a.stolen, a.steals);
  runner.close();
}

INSTANTIATE_TEST_SUITE_P(Workers, EventLoopTest, ::testing::Values(1, 2, 4),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return "w" + std::to_string(info.param);
                         });

// ================================================================ asyncio's exact order (1 worker)

Coro<void> printer(std::string name, std::vector<std::string>* out) {
  for (int i = 0; i < 5; ++i) {
    out->push_back(name + std::to_string(i));
    co_await weft::sleep(0s);
  }
}

TEST(EventLoopOneWorker, TaskStepsInterleaveAsAsyncio) {
  std::vector<std::string> out;
  weft::run(
      [&]() -> Coro<void> {
        Task<> a = weft::create_task(printer("A", &out));
        Task<> b = weft::create_task(printer("B", &out));
        Task<> c = weft::create_task(printer("C", &out));
        co_await a;
        co_await b;
        co_await c;
      }(),
      {.workers = 1});
  std::vector<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    for (const char* n : {"A", "B", "C"}) expected.push_back(n + std::to_string(i));
  }
  EXPECT_EQ(out, expected);
}

Coro<void> step_with_callback(weft::EventLoop* loop, std::vector<std::string>* out) {
  out->push_back("A0");
  loop->call_soon([out] { out->push_back("cbA"); });
  co_await weft::sleep(0s);
  out->push_back("A1");
}
Coro<void> plain_steps(std::vector<std::string>* out) {
  out->push_back("B0");
  co_await weft::sleep(0s);
  out->push_back("B1");
}

TEST(EventLoopOneWorker, CallbacksAndStepsShareOneFifo) {
  // asyncio: ready = [A, B]; A runs (queues cbA, then itself) -> [B, cbA, A]; B runs -> [cbA, A,
  // B]; then cbA, A, B.
  std::vector<std::string> out;
  weft::run(
      [&]() -> Coro<void> {
        weft::EventLoop& loop = weft::get_running_loop();
        Task<> a = weft::create_task(step_with_callback(&loop, &out));
        Task<> b = weft::create_task(plain_steps(&out));
        co_await a;
        co_await b;
        // Callbacks alone: FIFO, and a callback queued by a callback runs after those already
        // queued.
        std::vector<int> order;
        Future<> done = loop.create_future();
        for (int i = 0; i < 5; ++i) {
          loop.call_soon([&, i] {
            order.push_back(i);
            if (i == 0) loop.call_soon([&] { order.push_back(100); done.set_result(); });
          });
        }
        co_await done;
        EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 100}));
      }(),
      {.workers = 1});
  EXPECT_EQ(out, (std::vector<std::string>{"A0", "B0", "cbA", "A1", "B1"}));
}

TEST(EventLoopOneWorker, EverythingRunsOnTheCallingThread) {
  const auto me = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  weft::run(
      [&]() -> Coro<void> {
        auto check = [&] {
          if (std::this_thread::get_id() != me) elsewhere.fetch_add(1);
        };
        check();
        std::vector<Task<int>> ts;
        for (int i = 0; i < 100; ++i) ts.push_back(weft::create_task(value_of(i)));
        for (auto& t : ts) co_await t;
        check();
        co_await weft::sleep(1ms);
        check();
        Future<> done = Future<>::create();
        weft::get_running_loop().call_soon([&] {
          check();
          done.set_result();
        });
        co_await done;
        check();
      }(),
      {.workers = 1});
  EXPECT_EQ(elsewhere.load(), 0);
}

}  // namespace
