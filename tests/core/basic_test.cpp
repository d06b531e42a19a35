#include <gtest/gtest.h>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

weft::Coro<int> add(int a, int b) { co_return a + b; }

weft::Coro<int> main_simple() {
  int x = co_await add(1, 2);
  auto t = weft::create_task(add(3, 4));
  int y = co_await t;
  co_await weft::sleep(1ms);
  co_await weft::sleep(0ms);
  co_return x + y;
}

TEST(Basic, RunReturnsResult) {
  for (std::size_t w : {1u, 2u, 4u}) {
    EXPECT_EQ(weft::run(main_simple(), {.workers = w}), 10) << w;
  }
}

}  // namespace
