// ping_pong: 1,000 pairs of tasks, 100 round trips each, through weft::Future<int>. Per-op =
// per round trip (2 futures created, set and awaited). No oneTBB peer.
//
// Each round the pinger makes the pong future and publishes it in the pair before setting
// ping; the ponger makes the next ping future and publishes it before setting pong. A field is
// only written while the other side waits on a future set after the write, so the futures'
// own acquire/release orders every access (no extra synchronisation).
//
// One weft::Runner (in a WeftDriver) created once outside the timing loop; one run() per
// iteration (common.hpp).
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <weft/weft.hpp>

#include "common.hpp"

namespace {

constexpr std::int64_t kPairs = 1'000;

struct Pair {
  weft::Future<int> ping = weft::Future<int>::create();  // then written by the ponger
  weft::Future<int> pong = weft::Future<int>::create();  // then written by the pinger
};

weft::Coro<void> pinger(Pair* p, std::int64_t rounds) {
  for (std::int64_t i = 0; i < rounds; ++i) {
    weft::Future<int> pong = weft::Future<int>::create();
    p->pong = pong;
    weft::Future<int> ping = std::move(p->ping);
    ping.set_result(static_cast<int>(i));
    int v = co_await pong;
    if (v != static_cast<int>(i)) throw std::logic_error("ping_pong: wrong value");
  }
}

weft::Coro<void> ponger(Pair* p, weft::Future<int> ping, std::int64_t rounds) {
  for (std::int64_t i = 0; i < rounds; ++i) {
    int v = co_await ping;
    weft::Future<int> pong = std::move(p->pong);
    if (i + 1 < rounds) {
      ping = weft::Future<int>::create();
      p->ping = ping;
    }
    pong.set_result(v);
  }
}

weft::Coro<void> play(std::int64_t rounds) {
  std::vector<Pair> pairs(kPairs);  // never resized: tasks hold pointers into it
  std::vector<weft::Task<>> tasks;
  tasks.reserve(2 * kPairs);
  for (std::int64_t i = 0; i < kPairs; ++i) {
    Pair* p = &pairs[static_cast<std::size_t>(i)];
    tasks.push_back(weft::create_task(ponger(p, p->ping, rounds)));
    tasks.push_back(weft::create_task(pinger(p, rounds)));
  }
  for (auto& t : tasks) co_await t;
}

void weft_ping_pong(benchmark::State& state, int workers) {
  const std::int64_t rounds = weft_perf::smoke() ? 10 : 100;  // smoke: 1/10 of the work
  weft_perf::WeftDriver runner(workers);  // one Runner, outside the timing loop
  weft_perf::Meter meter;
  for (auto _ : state) meter.time([&] { runner.run(play(rounds)); });
  meter.report(state, kPairs * rounds);
  runner.report(state);
}

const int registered = [] {
  weft_perf::register_workload("ping_pong", "weft", weft_ping_pong);
  return 0;
}();

}  // namespace
