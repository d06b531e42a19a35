#include <weft/io/reactor.hpp>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <system_error>

namespace weft::io {

Reactor::Reactor() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakefd_ < 0) {
    int e = errno;
    ::close(epfd_);
    throw std::system_error(e, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wakefd_;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) {
    int e = errno;
    ::close(wakefd_);
    ::close(epfd_);
    throw std::system_error(e, std::generic_category(), "epoll_ctl(eventfd)");
  }
}

Reactor::~Reactor() {
  ::close(wakefd_);
  ::close(epfd_);
}

int Reactor::wait(std::chrono::nanoseconds timeout) noexcept {
  ++polls_;
  epoll_event events[64];
  int n;
  if (timeout.count() < 0) {
    n = ::epoll_wait(epfd_, events, 64, -1);
  } else {
    // epoll_pwait2 takes a nanosecond timeout: timers do not round up to the next millisecond.
    timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000),
                static_cast<long>(timeout.count() % 1'000'000'000)};
    n = ::epoll_pwait2(epfd_, events, 64, &ts, nullptr);
    if (n < 0 && errno == ENOSYS) {
      auto ms = (timeout.count() + 999'999) / 1'000'000;
      n = ::epoll_wait(epfd_, events, 64, static_cast<int>(ms));
    }
  }
  if (n <= 0) return 0;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.fd == wakefd_) {
      std::uint64_t v;
      [[maybe_unused]] auto r = ::read(wakefd_, &v, sizeof v);
    }
  }
  return n;
}

void Reactor::wake() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(wakefd_, &one, sizeof one);
}

}  // namespace weft::io
