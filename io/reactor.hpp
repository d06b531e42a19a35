// A loop's reactor: an epoll instance plus an eventfd that other threads write to wake the loop
// when it is parked in wait(). Owning loop's thread only, except wake() (any thread).
//
// This reactor carries only the wake-up and the timed wait that parks a loop; file
// descriptor readiness (sockets, pipes, signals) registers here as io/ grows.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft::io {

class Reactor {
 public:
  Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;
  ~Reactor();

  // Waits for readiness or a wake() up to `timeout` (negative: no limit; zero: poll).
  // Returns the number of events handled.
  int wait(std::chrono::nanoseconds timeout) noexcept;
  // Makes a concurrent or the next wait() return. Any thread; one write syscall.
  void wake() noexcept;
  [[nodiscard]] std::uint64_t polls() const noexcept { return polls_; }
  // Whether any descriptor besides the wake-up one is registered: if not, a zero-timeout poll
  // has nothing to report and the loop skips the syscall.
  [[nodiscard]] bool has_io() const noexcept { return io_count_ > 0; }

 private:
  int epfd_ = -1;
  int wakefd_ = -1;
  std::uint64_t polls_ = 0;
  std::size_t io_count_ = 0;
};

}  // namespace weft::io
