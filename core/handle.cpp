#include <weft/core/handle.hpp>

#include <string>

namespace weft {
namespace detail {

void HandleNode::invoke_now() noexcept {
  try {
    invoke_(this);
  } catch (...) {
    // asyncio's Handle._run: an exception escaping a callback goes to the exception handler.
    loop_->call_exception_handler({"Exception in callback", std::current_exception(), {}});
  }
}

void HandleNode::run_thunk(Runnable* r) noexcept {
  auto* self = static_cast<HandleNode*>(r);
  if (self->claim()) self->invoke_now();
  self->release();  // the queue's reference
}

}  // namespace detail

void TimerHandle::cancel() noexcept {
  if (!node_ || !node_->cancel()) return;
  auto* timer = static_cast<detail::TimerNode*>(node_);
  timer->loop()->remove_timer(timer);  // at once on the loop's thread, else lazily
}

}  // namespace weft
