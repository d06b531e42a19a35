#include <weft/core/future_base.hpp>

#include <atomic>
#include <cstdio>

namespace weft::detail {

FutureBase::~FutureBase() {
  // Done callbacks of a future that never completed are freed here (awaiting tasks hold
  // references, so no await node can still be listed).
  for (WaiterNode* w = waiters_; w;) {
    WaiterNode* next = w->next;
    if (w->dispose) w->dispose(w);
    w = next;
  }
}

bool FutureBase::add_waiter(WaiterNode* w) noexcept {
  w->next = nullptr;
  lock_.lock();
  if (state_.load(memory_order_relaxed) != kPending) {
    lock_.unlock();
    return false;
  }
  if (waiters_tail_) {
    waiters_tail_->next = w;
  } else {
    waiters_ = w;
  }
  waiters_tail_ = w;
  lock_.unlock();
  return true;
}

bool FutureBase::remove_waiter(WaiterNode* w) noexcept {
  lock_.lock();
  WaiterNode* prev = nullptr;
  for (WaiterNode* cur = waiters_; cur; prev = cur, cur = cur->next) {
    if (cur != w) continue;
    (prev ? prev->next : waiters_) = cur->next;
    if (waiters_tail_ == cur) waiters_tail_ = prev;
    lock_.unlock();
    return true;
  }
  lock_.unlock();
  return false;
}

void FutureBase::add_done_callback_node(WaiterNode* node) noexcept {
  if (!add_waiter(node)) node->notify(node, this);  // already done: schedule it now
}

std::size_t FutureBase::remove_done_callback(std::uint64_t id) noexcept {
  if (id == 0) return 0;
  std::size_t removed = 0;
  lock_.lock();
  WaiterNode* prev = nullptr;
  for (WaiterNode* cur = waiters_; cur;) {
    WaiterNode* next = cur->next;
    if (cur->id == id) {
      (prev ? prev->next : waiters_) = next;
      if (waiters_tail_ == cur) waiters_tail_ = prev;
      if (cur->dispose) cur->dispose(cur);
      ++removed;
    } else {
      prev = cur;
    }
    cur = next;
  }
  lock_.unlock();
  return removed;
}

void FutureBase::notify_all(WaiterNode* list) noexcept {
  while (list) {
    WaiterNode* next = list->next;  // the node may be freed by notify
    list->notify(list, this);
    list = next;
  }
}

bool FutureBase::cancel_future(std::string msg) noexcept {
  mark_retrieved();  // asyncio: cancel() clears _log_traceback
  return complete([&] {
    if (!msg.empty()) cancel_msg_ = std::make_unique<std::string>(std::move(msg));
    return kCancelled;
  });
}

void FutureBase::check_result() const {
  switch (state()) {
    case kPending:
      throw InvalidStateError("Result is not set.");
    case kCancelled:
      throw CancelledError(cancel_message());
    case kException:
      mark_retrieved();
      std::rethrow_exception(exc_);
    case kResult:
      return;
  }
}

std::exception_ptr FutureBase::exception() const {
  switch (state()) {
    case kPending:
      throw InvalidStateError("Exception is not set.");
    case kCancelled:
      throw CancelledError(cancel_message());
    case kException:
      mark_retrieved();
      return exc_;
    case kResult:
      break;
  }
  return nullptr;
}

void FutureBase::report_unretrieved() noexcept {
  try {
    std::string what = describe();
    // ExceptionContext::task_name is the bare task name ("Task <name>" -> "<name>"), and
    // empty for a plain Future (as the slow-callback report does).
    std::string task = what.rfind("Task ", 0) == 0 ? what.substr(5) : std::string();
    ExceptionContext context{what + " exception was never retrieved", exc_, std::move(task)};
    LoopBase* l = loop();
    bool reported = l != nullptr && with_live_loop(
                                        l,
                                        [](LoopBase* live, void* ctx) {
                                          live->call_exception_handler(
                                              *static_cast<ExceptionContext*>(ctx));
                                        },
                                        &context);
    if (!reported) {
      // The handle outlived its runtime: nobody to hand it to but stderr.
      std::string text = "weft: " + context.message;
      try {
        std::rethrow_exception(exc_);
      } catch (const std::exception& e) {
        text += std::string("\n  exception: ") + e.what();
      } catch (...) {
      }
      text += '\n';
      std::fputs(text.c_str(), stderr);
    }
  } catch (...) {
  }
}

}  // namespace weft::detail
