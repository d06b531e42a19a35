// Built against an installed weft by tests/install/run_install_test.cmake: if this compiles,
// links and prints "weft consumer: 42", the exported package works.
#include <chrono>
#include <cstdio>
#include <thread>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

weft::Coro<int> twice(int x) {
  co_await weft::sleep(1ms);
  co_return 2 * x;
}

int blocking_add(int a, int b) {
  std::this_thread::sleep_for(1ms);
  return a + b;
}

weft::Coro<int> main_coro() {
  weft::Task<int> t = weft::create_task(twice(10), {.name = "twice"});
  co_await weft::sleep(2ms);
  int from_thread = co_await weft::to_thread(blocking_add, 11, 11);
  co_return co_await t + from_thread;
}

}  // namespace

int main() {
  int result = weft::run(main_coro(), {.workers = 2});
  std::printf("weft consumer: %d\n", result);
  return result == 42 ? 0 : 1;
}
