// The exceptions weft raises, named as asyncio names them.
//
// CancelledError deliberately does not derive from std::runtime_error (in Python it is a
// BaseException, not an Exception): `catch (const std::runtime_error&)` or
// `catch (const std::exception& e) { if (is_error(e)) ... }` style handlers in user code must not
// swallow a cancellation by accident. Catch it explicitly, or with `catch (...)` and rethrow.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace weft {

// Raised into a task at its current await when the task is cancelled (asyncio.CancelledError).
class CancelledError : public std::exception {
 public:
  CancelledError() = default;
  explicit CancelledError(std::string message) : message_(std::move(message)) {}
  // The message passed to cancel(msg), or empty.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] const char* what() const noexcept override {
    return message_.empty() ? "CancelledError" : message_.c_str();
  }

 private:
  std::string message_;
};

// asyncio.TimeoutError (the builtin TimeoutError since Python 3.11).
class TimeoutError : public std::runtime_error {
 public:
  TimeoutError() : std::runtime_error("TimeoutError") {}
  using std::runtime_error::runtime_error;
};

// asyncio.InvalidStateError: result() of a pending future, set_result() of a finished one.
class InvalidStateError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Python's RuntimeError: no running event loop, a closed loop, run() inside a running loop,
// awaiting a coroutine twice.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Python's ValueError: an argument with the right type but an unusable value.
class ValueError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace weft
