// Helpers shared by weft's behavioural tests (header only; included as "../weft_test_support.hpp").
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include <weft/weft.hpp>

namespace weft_test {

// Exception-handler calls collected from every loop of a runtime.
struct Captured {
  std::mutex mu;
  std::vector<weft::ExceptionContext> items;

  void add(const weft::ExceptionContext& c) {
    std::lock_guard lock(mu);
    items.push_back(c);
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return items.size();
  }
  std::vector<weft::ExceptionContext> snapshot() {
    std::lock_guard lock(mu);
    return items;
  }
  // How many reports have `needle` in their message.
  std::size_t count_message(const std::string& needle) {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (const auto& c : items) n += c.message.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
};

// Installs a handler feeding `c` on every loop of `rt`. `c` must outlive the runtime's loops'
// use of it (declare it before the Runner / weft::run call).
inline void capture_all_loops(weft::Runtime& rt, Captured& c) {
  for (std::size_t i = 0; i < rt.workers(); ++i) {
    rt.loop(i).set_exception_handler(
        [&c](weft::EventLoop&, const weft::ExceptionContext& ctx) { c.add(ctx); });
  }
}
inline void capture_all_loops(Captured& c) {
  capture_all_loops(weft::get_running_loop().runtime(), c);
}

// Waits (bounded) for a condition, letting the loops run meanwhile: polling, not a sleep used
// as synchronisation. Returns whether the condition became true in time.
template <class Pred>
weft::Coro<bool> wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = weft::Clock::now() + limit;
  while (!pred()) {
    if (weft::Clock::now() > deadline) co_return false;
    co_await weft::sleep(std::chrono::milliseconds(1));
  }
  co_return true;
}

inline std::string what_of(const std::exception_ptr& e) {
  if (!e) return "(null)";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "(not a std::exception)";
  }
}

// Sanitizer builds run the stress tests with smaller counts.
#if defined(WEFT_TSAN) || defined(WEFT_ASAN)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#if defined(NDEBUG)
inline constexpr bool kOptimized = true;
#else
inline constexpr bool kOptimized = false;
#endif

}  // namespace weft_test
