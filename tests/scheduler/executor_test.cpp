// Executors and the bridges between threads and loops: ThreadPoolExecutor (bounded, on demand,
// idle retirement, shutdown), CpuExecutor (a oneTBB arena beside the loops), run_in_executor /
// to_thread over 1, 2 and 4 workers, and run_coroutine_threadsafe from a plain std::thread.
//
// No sleep is used to order events: threads meet at CountDown gates (timed waits, so a bug
// fails the test instead of hanging it) or at weft Futures set from other threads; the only
// polling is a bounded wait for idle threads to retire.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/task_arena.h>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

// A latch with a timed wait.
class CountDown {
 public:
  explicit CountDown(int n) : n_(n) {}
  void count_down() {
    std::lock_guard lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  [[nodiscard]] bool wait(std::chrono::milliseconds limit = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [this] { return n_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_;
};

// Bounded polling for a state with no event to wait on (a thread retiring).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

void atomic_max(std::atomic<int>& m, int v) {
  int cur = m.load();
  while (cur < v && !m.compare_exchange_weak(cur, v)) {
  }
}

// ------------------------------------------------------------------ ThreadPoolExecutor

TEST(ThreadPoolExecutor, RejectsZeroWorkers) {
  EXPECT_THROW(weft::ThreadPoolExecutor(0), weft::ValueError);
}

TEST(ThreadPoolExecutor, CreatesThreadsOnDemand) {
  weft::ThreadPoolExecutor pool(4);
  EXPECT_EQ(pool.thread_count(), 0u);
  CountDown started(1), release(1);
  pool.submit([&] {
    started.count_down();
    EXPECT_TRUE(release.wait());
  });
  ASSERT_TRUE(started.wait());
  EXPECT_EQ(pool.thread_count(), 1u);
  release.count_down();
  pool.shutdown(true);
  EXPECT_EQ(pool.thread_count(), 0u);
}

TEST(ThreadPoolExecutor, NeverMoreThanMaxWorkers) {
  constexpr int kMax = 4, kCalls = 100;
  weft::ThreadPoolExecutor pool(kMax);
  CountDown first_wave(kMax), release(1);
  std::atomic<int> index{0}, running{0}, max_running{0}, finished{0};
  std::atomic<std::size_t> max_threads{0};
  for (int i = 0; i < kCalls; ++i) {
    pool.submit([&] {
      atomic_max(max_running, ++running);
      std::size_t t = pool.thread_count();
      std::size_t cur = max_threads.load();
      while (cur < t && !max_threads.compare_exchange_weak(cur, t)) {
      }
      if (index.fetch_add(1) < kMax) first_wave.count_down();
      EXPECT_TRUE(release.wait());
      --running;
      ++finished;
    });
    EXPECT_LE(pool.thread_count(), static_cast<std::size_t>(kMax));
  }
  // Exactly kMax calls are blocked; the other 96 queue behind them.
  ASSERT_TRUE(first_wave.wait());
  EXPECT_EQ(pool.thread_count(), static_cast<std::size_t>(kMax));
  EXPECT_EQ(running.load(), kMax);
  release.count_down();
  pool.shutdown(true);
  EXPECT_EQ(finished.load(), kCalls);
  EXPECT_EQ(max_running.load(), kMax);
  EXPECT_LE(max_threads.load(), static_cast<std::size_t>(kMax));
}

// Before the fix, a submit saw idle_ > 0 and only notified, even when that idle thread had
// already been notified for an earlier item: several submits piled up behind one idle thread,
// leaving calls that wait for each other deadlocked although the bound allowed more threads.
TEST(ThreadPoolExecutor, IdleThreadDoesNotAbsorbSeveralSubmits) {
  constexpr int kMax = 4;
  weft::ThreadPoolExecutor pool(kMax);
  CountDown warm(1);
  pool.submit([&] { warm.count_down(); });
  ASSERT_TRUE(warm.wait());
  ASSERT_TRUE(eventually([&] { return pool.idle_count() == 1; }));
  // kMax calls that can only finish once all of them run at once.
  CountDown all_running(kMax);
  std::atomic<int> ok{0};
  for (int i = 0; i < kMax; ++i) {
    pool.submit([&] {
      all_running.count_down();
      if (all_running.wait(10s)) ++ok;
    });
  }
  pool.shutdown(true);
  EXPECT_EQ(ok.load(), kMax);
}

TEST(ThreadPoolExecutor, IdleThreadsRetire) {
  weft::ThreadPoolExecutor pool(2, 50ms);
  CountDown both(2), release(1);
  for (int i = 0; i < 2; ++i) {
    pool.submit([&] {
      both.count_down();
      EXPECT_TRUE(release.wait());
    });
  }
  ASSERT_TRUE(both.wait());
  EXPECT_EQ(pool.thread_count(), 2u);
  release.count_down();
  EXPECT_TRUE(eventually([&] { return pool.thread_count() == 0; }));
  // The pool starts threads again after retiring them (and joins the retired ones).
  CountDown again(1);
  pool.submit([&] { again.count_down(); });
  EXPECT_TRUE(again.wait());
  EXPECT_LE(pool.thread_count(), 1u);
  pool.shutdown(true);
}

TEST(ThreadPoolExecutor, ShutdownWaitsForQueuedWork) {
  constexpr int kCalls = 10;
  weft::ThreadPoolExecutor pool(2);
  CountDown release(1);
  std::atomic<int> finished{0};
  for (int i = 0; i < kCalls; ++i) {
    pool.submit([&] {
      EXPECT_TRUE(release.wait());
      ++finished;
    });
  }
  std::thread opener([&] { release.count_down(); });
  pool.shutdown(true);  // cannot return before the gate opens and all ten ran
  EXPECT_EQ(finished.load(), kCalls);
  opener.join();
}

TEST(ThreadPoolExecutor, RejectsWorkAfterShutdown) {
  weft::ThreadPoolExecutor pool(1);
  pool.shutdown(true);
  try {
    pool.submit([] {});
    FAIL() << "submit after shutdown";
  } catch (const weft::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
  }
}

// Before the fix, shutdown(false) detached the threads and the destructor's shutdown(true) found
// none to join: the pool was freed under calls still running.
TEST(ThreadPoolExecutor, ShutdownNoWaitThenDestroyJoins) {
  std::atomic<int> finished{0};
  CountDown release(1), started(2);
  std::thread opener;
  {
    weft::ThreadPoolExecutor pool(2);
    for (int i = 0; i < 4; ++i) {
      pool.submit([&] {
        started.count_down();
        EXPECT_TRUE(release.wait());
        ++finished;
      });
    }
    ASSERT_TRUE(started.wait());
    pool.shutdown(false);  // returns at once
    EXPECT_LT(finished.load(), 4);
    EXPECT_THROW(pool.submit([] {}), weft::RuntimeError);
    // Opened concurrently with the destructor, which must wait for the four calls.
    opener = std::thread([&] { release.count_down(); });
  }
  EXPECT_EQ(finished.load(), 4);
  opener.join();
}

// Before the fix, the second of two concurrent shutdown(true) calls found no threads left to
// join and returned while calls were still running.
TEST(ThreadPoolExecutor, ConcurrentShutdownsBothWait) {
  constexpr int kCalls = 6;
  weft::ThreadPoolExecutor pool(2);
  CountDown release(1);
  std::atomic<int> finished{0};
  for (int i = 0; i < kCalls; ++i) {
    pool.submit([&] {
      EXPECT_TRUE(release.wait());
      ++finished;
    });
  }
  int seen_a = -1, seen_b = -1;
  CountDown both_calling(2);
  std::thread a([&] {
    both_calling.count_down();
    pool.shutdown(true);
    seen_a = finished.load();
  });
  std::thread b([&] {
    both_calling.count_down();
    pool.shutdown(true);
    seen_b = finished.load();
  });
  ASSERT_TRUE(both_calling.wait());
  release.count_down();
  a.join();
  b.join();
  EXPECT_EQ(seen_a, kCalls);
  EXPECT_EQ(seen_b, kCalls);
}

TEST(ThreadPoolExecutor, ShutdownFromOwnThreadRaises) {
  weft::ThreadPoolExecutor pool(1);
  CountDown done(1);
  bool raised = false;
  pool.submit([&] {
    try {
      pool.shutdown(true);
    } catch (const weft::RuntimeError&) {
      raised = true;
    }
    done.count_down();
  });
  ASSERT_TRUE(done.wait());
  pool.shutdown(true);
  EXPECT_TRUE(raised);
}

TEST(ThreadPoolExecutor, EscapedExceptionKeepsTheThread) {
  weft::ThreadPoolExecutor pool(1);
  pool.submit([] { throw std::runtime_error("escaped on purpose (expected in this test)"); });
  CountDown after(1);
  pool.submit([&] { after.count_down(); });
  EXPECT_TRUE(after.wait());
  pool.shutdown(true);
}

// ------------------------------------------------------------------ CpuExecutor

TEST(CpuExecutor, RunsSubmittedWorkAndShutdownWaits) {
  constexpr int kCalls = 64;
  weft::CpuExecutor cpu(2);
  EXPECT_EQ(cpu.max_concurrency(), 2);
  std::atomic<int> finished{0};
  for (int i = 0; i < kCalls; ++i) {
    cpu.submit([&] {
      EXPECT_GE(tbb::this_task_arena::current_thread_index(), 0);  // inside the arena
      ++finished;
    });
  }
  cpu.shutdown(true);
  EXPECT_EQ(finished.load(), kCalls);
  EXPECT_EQ(cpu.in_flight(), 0u);
  try {
    cpu.submit([] {});
    FAIL() << "submit after shutdown";
  } catch (const weft::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
  }
}

TEST(CpuExecutor, OneSlotStillRunsEnqueuedWork) {
  weft::CpuExecutor cpu(1);
  CountDown ran(1);
  cpu.submit([&] { ran.count_down(); });
  EXPECT_TRUE(ran.wait());
}

TEST(CpuExecutor, ArenaExecuteRunsParallelFor) {
  weft::CpuExecutor cpu;
  std::vector<int> v(10000);
  cpu.arena().execute([&] {
    tbb::parallel_for(std::size_t{0}, v.size(), [&](std::size_t i) { v[i] = static_cast<int>(i); });
  });
  EXPECT_EQ(std::accumulate(v.begin(), v.end(), 0LL), 10000LL * 9999 / 2);
}

TEST(CpuExecutor, ShutdownFromOwnCallRaises) {
  weft::CpuExecutor cpu(2);
  std::atomic<bool> raised{false};
  CountDown done(1);
  cpu.submit([&] {
    try {
      cpu.shutdown(true);
    } catch (const weft::RuntimeError&) {
      raised = true;
    }
    done.count_down();
  });
  ASSERT_TRUE(done.wait());
  cpu.shutdown(true);
  EXPECT_TRUE(raised.load());
}

TEST(CpuExecutor, EscapedExceptionDoesNotAbort) {
  weft::CpuExecutor cpu(2);
  cpu.submit([] { throw std::runtime_error("escaped on purpose (expected in this test)"); });
  cpu.shutdown(true);
  EXPECT_EQ(cpu.in_flight(), 0u);
}

// ------------------------------------------------------------------ run_in_executor / to_thread

class Bridge : public ::testing::TestWithParam<std::size_t> {
 protected:
  weft::RunOptions options() const { return {.workers = GetParam()}; }
};

weft::Coro<int> to_thread_value() {
  co_return co_await weft::to_thread([](int a, int b) { return a * b; }, 6, 7);
}

TEST_P(Bridge, ToThreadReturnsValue) { EXPECT_EQ(weft::run(to_thread_value(), options()), 42); }

weft::Coro<bool> to_thread_void() {
  std::atomic<bool> ran{false};
  std::thread::id caller = std::this_thread::get_id();
  std::thread::id callee;
  co_await weft::to_thread([&] {
    callee = std::this_thread::get_id();
    ran = true;
  });
  co_return ran.load() && callee != caller;
}

TEST_P(Bridge, ToThreadVoidRunsOffTheLoop) { EXPECT_TRUE(weft::run(to_thread_void(), options())); }

// The futures below are named so that they outlive the catch blocks that read the exception.
// (With a temporary, the executor thread may drop the last reference and free the exception while
// the handler reads it: correct, ordered by the exception_ptr's reference count, but that count
// lives in libstdc++, which ThreadSanitizer does not see.)
weft::Coro<std::string> to_thread_throws() {
  auto fut = weft::to_thread([]() -> int { throw std::runtime_error("boom"); });
  try {
    co_await fut;
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "no exception";
}

TEST_P(Bridge, ToThreadPropagatesExceptions) {
  EXPECT_EQ(weft::run(to_thread_throws(), options()), "boom");
}

// Before the fix, an InvalidStateError thrown by the user's function was caught as "the future
// was cancelled meanwhile" and dropped: the awaiting task never woke.
weft::Coro<bool> to_thread_invalid_state() {
  auto fut = weft::to_thread([] { throw weft::InvalidStateError("from the call"); });
  try {
    co_await fut;
  } catch (const weft::InvalidStateError& e) {
    co_return std::string(e.what()) == "from the call";
  }
  co_return false;
}

TEST_P(Bridge, ToThreadDeliversUserInvalidStateError) {
  EXPECT_TRUE(weft::run(to_thread_invalid_state(), options()));
}

weft::Coro<int> to_thread_move_only() {
  // A move-only argument and a move-only result; a reference result is copied out.
  std::unique_ptr<int> p = co_await weft::to_thread(
      [](std::unique_ptr<int> in) { return std::make_unique<int>(*in + 1); },
      std::make_unique<int>(41));
  static const std::string kName = "weft";
  std::string s = co_await weft::to_thread([]() -> const std::string& { return kName; });
  co_return *p + static_cast<int>(s.size());
}

TEST_P(Bridge, ToThreadMoveOnlyAndReferenceResults) {
  EXPECT_EQ(weft::run(to_thread_move_only(), options()), 46);
}

weft::Coro<long> one_call(int i) {
  co_return co_await weft::to_thread([](int x) { return static_cast<long>(x) * x; }, i);
}

weft::Coro<long> many_to_thread(int n) {
  std::vector<weft::Task<long>> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(weft::create_task(one_call(i)));
  long sum = 0;
  for (auto& t : tasks) sum += co_await t;
  co_return sum;
}

TEST_P(Bridge, ManyConcurrentToThreadCalls) {
  constexpr int kN = 500;
  long expect = 0;
  for (long i = 0; i < kN; ++i) expect += i * i;
  weft::RunOptions o = options();
  o.max_blocking_threads = 3;  // most calls queue behind the bound
  EXPECT_EQ(weft::run(many_to_thread(kN), o), expect);
}

weft::Coro<bool> custom_pool(weft::ThreadPoolExecutor* pool) {
  std::set<std::thread::id> ids;
  std::mutex mu;
  auto record = [&] {
    std::lock_guard lock(mu);
    ids.insert(std::this_thread::get_id());
    return 1;
  };
  int a = co_await weft::run_in_executor(*pool, record);
  int b = co_await weft::run_in_executor(pool, record);
  int c = co_await weft::get_running_loop().run_in_executor(pool, record);  // loop's spelling
  bool ok = a + b + c == 3 && ids.size() == 1 && pool->thread_count() == 1;
  // A pool's thread may still be inside the loop's wake-up call after its result was delivered:
  // shut the pool down (off the loop) before the runtime goes away.
  co_await weft::to_thread([pool] { pool->shutdown(true); });
  co_return ok;
}

TEST_P(Bridge, RunInExecutorWithCustomPool) {
  weft::ThreadPoolExecutor pool(1);
  EXPECT_TRUE(weft::run(custom_pool(&pool), options()));
  pool.shutdown(true);
}

weft::Coro<bool> after_shutdown(weft::ThreadPoolExecutor* pool) {
  try {
    (void)weft::run_in_executor(pool, [] { return 1; });
  } catch (const weft::RuntimeError&) {
    co_return true;
  }
  co_return false;
}

TEST_P(Bridge, RunInExecutorAfterShutdownRaises) {
  weft::ThreadPoolExecutor pool(1);
  pool.shutdown(true);
  EXPECT_TRUE(weft::run(after_shutdown(&pool), options()));
}

TEST(Bridge, RunInExecutorOutsideLoopRaises) {
  EXPECT_THROW((void)weft::to_thread([] { return 1; }), weft::RuntimeError);
}

// Counts what it is given and forwards to a pool.
class CountingExecutor final : public weft::Executor {
 public:
  void submit(weft::detail::UniqueFunction fn) override {
    ++submitted;
    pool_.submit(std::move(fn));
  }
  void shutdown(bool wait) override { pool_.shutdown(wait); }
  std::atomic<int> submitted{0};

 private:
  weft::ThreadPoolExecutor pool_{2};
};

weft::Coro<int> with_default(std::shared_ptr<CountingExecutor> ex) {
  weft::set_default_executor(ex);
  int a = co_await weft::to_thread([] { return 1; });
  int b = co_await weft::run_in_executor(nullptr, [] { return 2; });
  co_return a + b;
}

TEST_P(Bridge, SetDefaultExecutor) {
  auto ex = std::make_shared<CountingExecutor>();
  EXPECT_EQ(weft::run(with_default(ex), options()), 3);
  EXPECT_EQ(ex->submitted.load(), 2);
  EXPECT_THROW(ex->submit([] {}), weft::RuntimeError);  // the runtime shut it down at close
}

TEST(Bridge, SetDefaultExecutorOutsideLoopRaises) {
  EXPECT_THROW(weft::set_default_executor(nullptr), weft::RuntimeError);
}

// Cancelling the task that awaits a running call: the task gets CancelledError at once; the
// call cannot be interrupted, finishes later, and its result is dropped.
struct CancelWhileRunning {
  weft::ThreadPoolExecutor pool{1};
  CountDown release{1};
  std::atomic<bool> second_ran{false};
  std::atomic<bool> first_finished{false};
  bool got_cancelled = false;
  bool second_cancelled = false;
};

weft::Coro<int> await_blocking(CancelWhileRunning* s, weft::Future<> started) {
  // Named, not a temporary inside the co_await: g++ 12 destroys a capturing lambda temporary in a
  // co_await operand twice (see docs/executors.md).
  auto call = [s, started]() mutable {
    started.set_result();  // a weft Future may be completed from any thread
    EXPECT_TRUE(s->release.wait());
    s->first_finished = true;
    return 42;  // nobody is waiting any more: dropped
  };
  co_return co_await weft::run_in_executor(s->pool, std::move(call));
}

weft::Coro<int> await_queued(CancelWhileRunning* s) {
  // Queued behind the first call on the one-thread pool.
  co_return co_await weft::run_in_executor(s->pool, [s] {
    s->second_ran = true;
    return 7;
  });
}

weft::Coro<void> cancel_while_running(CancelWhileRunning* s) {
  auto started = weft::Future<>::create();
  weft::Task<int> first = weft::create_task(await_blocking(s, started));
  co_await started;
  weft::Task<int> second = weft::create_task(await_queued(s));
  co_await weft::sleep(0ms);  // let `second` submit its call
  first.cancel();
  second.cancel();
  try {
    (void)co_await first;
  } catch (const weft::CancelledError&) {
    s->got_cancelled = true;
  }
  try {
    (void)co_await second;
  } catch (const weft::CancelledError&) {
    s->second_cancelled = true;
  }
  s->release.count_down();  // now let the call finish: its result finds the future cancelled
  co_await weft::to_thread([s] { s->pool.shutdown(true); });  // the late result is dropped by now
}

TEST_P(Bridge, CancelWhileToThreadRunsDropsLateResult) {
  CancelWhileRunning s;
  weft::run(cancel_while_running(&s), options());
  EXPECT_TRUE(s.got_cancelled);
  EXPECT_TRUE(s.second_cancelled);
  EXPECT_TRUE(s.first_finished.load());
  // `second` may or may not have submitted its call before being cancelled; if it did, the call
  // was still queued when its future was cancelled, so it was skipped.
  EXPECT_FALSE(s.second_ran.load());
}

// A tbb::parallel_for submitted through run_in_executor runs in the CpuExecutor's arena while a
// ticker task keeps ticking on the loops.
struct Responsive {
  std::atomic<int> ticks{0};
  std::atomic<bool> stop{false};
};

weft::Coro<void> ticker(Responsive* r) {
  while (!r->stop.load()) {
    co_await weft::sleep(1ms);
    ++r->ticks;
  }
}

weft::Coro<bool> cpu_beside_loops(weft::CpuExecutor* cpu, Responsive* r) {
  weft::Task<void> t = weft::create_task(ticker(r));
  constexpr std::size_t kN = 1 << 20;
  struct Out {
    long long sum;
    bool in_arena;
    bool ticked;
  };
  Out out = co_await weft::run_in_executor(*cpu, [cpu, r] {
    Out o{};
    o.in_arena = tbb::this_task_arena::max_concurrency() == cpu->max_concurrency();
    int before = r->ticks.load();
    o.sum = tbb::parallel_reduce(
        tbb::blocked_range<std::size_t>(0, kN), 0LL,
        [](const tbb::blocked_range<std::size_t>& range, long long acc) {
          for (std::size_t i = range.begin(); i != range.end(); ++i) {
            acc += static_cast<long long>(i);
          }
          return acc;
        },
        std::plus<>());
    // Still inside the CPU call: the loops must keep running the ticker meanwhile.
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (r->ticks.load() < before + 5 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    o.ticked = r->ticks.load() >= before + 5;
    return o;
  });
  r->stop = true;
  co_await t;
  co_await weft::to_thread([cpu] { cpu->shutdown(true); });  // as custom_pool() above
  co_return out.in_arena && out.ticked &&
      out.sum == static_cast<long long>(kN) * static_cast<long long>(kN - 1) / 2;
}

TEST_P(Bridge, CpuExecutorParallelForKeepsLoopsResponsive) {
  weft::CpuExecutor cpu(2);
  Responsive r;
  EXPECT_TRUE(weft::run(cpu_beside_loops(&cpu, &r), options()));
  cpu.shutdown(true);
}

INSTANTIATE_TEST_SUITE_P(Workers, Bridge, ::testing::Values(1u, 2u, 4u),
                         [](const auto& info) { return "w" + std::to_string(info.param); });

// ------------------------------------------------------------------ run_coroutine_threadsafe

// A runtime on a background thread; the test's own thread plays the plain foreign thread.
//
// stop() wakes the runtime from this thread, and the loops must outlive that wake-up call: the
// runtime thread closes the Runner but destroys it only once stop() has returned from
// set_result() (see "Known issues" in docs/executors.md).
class BackgroundRuntime {
 public:
  explicit BackgroundRuntime(std::size_t workers = 2) {
    std::promise<std::pair<weft::EventLoop*, weft::Future<>>> ready;
    auto got = ready.get_future();
    thread_ = std::thread([this, workers, &ready] {
      weft::Runner runner({.workers = workers});
      runner.run(serve(&ready));
      runner.close();
      EXPECT_TRUE(waker_returned_.wait());
    });
    auto [loop, stop] = got.get();
    loop_ = loop;
    stop_ = stop;
  }
  ~BackgroundRuntime() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    stop_->set_result();
    waker_returned_.count_down();
    thread_.join();
  }
  weft::EventLoop& loop() { return *loop_; }

 private:
  static weft::Coro<void> serve(std::promise<std::pair<weft::EventLoop*, weft::Future<>>>* ready) {
    auto stop = weft::Future<>::create();
    ready->set_value({&weft::get_running_loop(), stop});
    co_await stop;
  }
  CountDown waker_returned_{1};
  std::thread thread_;
  weft::EventLoop* loop_ = nullptr;
  std::optional<weft::Future<>> stop_;
};

weft::Coro<int> add_after(weft::Future<> gate, int a, int b) {
  co_await gate;
  co_return a + b;
}

weft::Coro<int> add_now(int a, int b) {
  co_await weft::sleep(0ms);
  co_return a + b;
}

TEST(RunCoroutineThreadsafe, ResultFromPlainThread) {
  BackgroundRuntime rt;
  weft::ConcurrentFuture<int> f = weft::run_coroutine_threadsafe(add_now(2, 3), rt.loop());
  EXPECT_EQ(f.result(10s), 5);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_EQ(f.result(), 5);  // again: the value stays
}

TEST(RunCoroutineThreadsafe, ResultTimesOut) {
  BackgroundRuntime rt;
  weft::Future<> gate = rt.loop().create_future();
  auto f = weft::run_coroutine_threadsafe(add_after(gate, 1, 2), rt.loop());
  EXPECT_THROW(f.result(20ms), weft::TimeoutError);
  EXPECT_THROW(f.exception(0ms), weft::TimeoutError);
  EXPECT_FALSE(f.wait(0ms));
  EXPECT_FALSE(f.done());
  gate.set_result();  // the timeout did not cancel it: it still completes
  EXPECT_EQ(f.result(10s), 3);
}

weft::Coro<int> fails() {
  co_await weft::sleep(0ms);
  throw std::runtime_error("coroutine failed");
}

TEST(RunCoroutineThreadsafe, ExceptionIsRethrown) {
  BackgroundRuntime rt;
  auto f = weft::run_coroutine_threadsafe(fails(), rt.loop());
  try {
    (void)f.result(10s);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "coroutine failed");
  }
  EXPECT_NE(f.exception(), nullptr);
}

weft::Coro<void> wait_forever(weft::Future<> gate, std::promise<void>* saw_cancel) {
  try {
    co_await gate;
  } catch (const weft::CancelledError&) {
    saw_cancel->set_value();
    throw;
  }
}

TEST(RunCoroutineThreadsafe, CancelCancelsTheTask) {
  BackgroundRuntime rt;
  weft::Future<> gate = rt.loop().create_future();
  std::promise<void> saw_cancel;
  auto f = weft::run_coroutine_threadsafe(wait_forever(gate, &saw_cancel), rt.loop());
  // Make sure the task is running (suspended on the gate) before cancelling it: ask the loop
  // for a round trip after the creating callback.
  auto ping = weft::run_coroutine_threadsafe(add_now(0, 0), rt.loop());
  ASSERT_EQ(ping.result(10s), 0);
  EXPECT_TRUE(f.cancel());
  EXPECT_FALSE(f.cancel());  // already done
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(), weft::CancelledError);
  EXPECT_THROW((void)f.exception(), weft::CancelledError);
  EXPECT_EQ(saw_cancel.get_future().wait_for(10s), std::future_status::ready);
}

TEST(RunCoroutineThreadsafe, CancelRightAway) {
  BackgroundRuntime rt;
  weft::Future<> gate = rt.loop().create_future();
  std::promise<void> saw_cancel;
  auto f = weft::run_coroutine_threadsafe(wait_forever(gate, &saw_cancel), rt.loop());
  EXPECT_TRUE(f.cancel());  // the task may not exist yet: then it is never created
  EXPECT_THROW(f.result(10s), weft::CancelledError);
  // Round trip through the loop, after which the cancel callback has run.
  auto ping = weft::run_coroutine_threadsafe(add_now(0, 0), rt.loop());
  ASSERT_EQ(ping.result(10s), 0);
  rt.stop();  // either way nothing is left waiting on the gate
}

weft::Coro<void> void_coro(std::atomic<bool>* ran) {
  co_await weft::sleep(0ms);
  *ran = true;
}

weft::Coro<std::unique_ptr<int>> make_unique_later(int v) {
  co_await weft::sleep(0ms);
  co_return std::make_unique<int>(v);
}

TEST(RunCoroutineThreadsafe, VoidAndMoveOnlyResults) {
  BackgroundRuntime rt;
  std::atomic<bool> ran{false};
  auto v = weft::run_coroutine_threadsafe(void_coro(&ran), rt.loop());
  v.result(10s);
  EXPECT_TRUE(ran.load());
  auto u = weft::run_coroutine_threadsafe(make_unique_later(9), rt.loop());
  std::unique_ptr<int> p = u.result(10s);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 9);
}

TEST(RunCoroutineThreadsafe, DoneCallbacks) {
  BackgroundRuntime rt;
  weft::Future<> gate = rt.loop().create_future();
  auto f = weft::run_coroutine_threadsafe(add_after(gate, 20, 22), rt.loop());
  std::promise<int> seen;
  f.add_done_callback([&](weft::ConcurrentFuture<int> done) { seen.set_value(done.result()); });
  gate.set_result();
  auto got = seen.get_future();
  ASSERT_EQ(got.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(got.get(), 42);
  int late = 0;
  f.add_done_callback([&](weft::ConcurrentFuture<int> done) { late = done.result(); });
  EXPECT_EQ(late, 42);  // already done: ran at once, on this thread
}

// A coroutine still pending when the runtime shuts down: the blocked caller gets CancelledError
// instead of waiting forever.
TEST(RunCoroutineThreadsafe, RuntimeShutdownCompletesPendingFuture) {
  auto rt = std::make_unique<BackgroundRuntime>();
  weft::Future<> gate = rt->loop().create_future();
  std::promise<void> saw_cancel;
  auto f = weft::run_coroutine_threadsafe(wait_forever(gate, &saw_cancel), rt->loop());
  std::thread stopper([&] { rt->stop(); });
  EXPECT_THROW(f.result(30s), weft::CancelledError);
  stopper.join();
}

weft::Coro<int> nothing() { co_return 0; }

// Regression: a coroutine whose creating callback only ran in Runtime::close()'s final drain
// (after the last round of cancellations) became a task that never ran, and result() hung.
TEST(RunCoroutineThreadsafe, CoroutineArrivingDuringCloseIsCancelled) {
  for (std::size_t workers : {1u, 2u}) {
    weft::Runner runner({.workers = workers});
    EXPECT_EQ(runner.run(nothing()), 0);
    weft::EventLoop& loop0 = runner.runtime().loop(0);  // not running between run() calls
    weft::Future<> gate = loop0.create_future();
    std::promise<void> saw_cancel;
    auto f = weft::run_coroutine_threadsafe(wait_forever(gate, &saw_cancel), loop0);
    runner.close();
    EXPECT_THROW(f.result(10s), weft::CancelledError) << workers;
  }
}

weft::Coro<bool> result_on_own_loop() {
  auto f = weft::run_coroutine_threadsafe(add_now(1, 1), weft::get_running_loop());
  bool raised = false;
  try {
    (void)f.result(1s);
  } catch (const weft::RuntimeError&) {
    raised = true;
  }
  co_return raised;
}

TEST(RunCoroutineThreadsafe, BlockingOnTheTargetLoopRaises) {
  EXPECT_TRUE(weft::run(result_on_own_loop(), {.workers = 1}));
}

TEST(RunCoroutineThreadsafe, ClosedLoopRaises) {
  weft::Runner runner({.workers = 1});
  runner.close();
  EXPECT_THROW((void)weft::run_coroutine_threadsafe(add_now(1, 1), runner.runtime().loop(0)),
               weft::RuntimeError);
}

}  // namespace
